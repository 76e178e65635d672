import ArgumentParser
import Coordination
import CoordinationChaos
import Dispatch
import Foundation
import Logging

@main
struct CoordChaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coord-chaos",
        abstract: "Run the scheduler under faults on real ZooKeeper and etcd clusters, and check that no job is lost or run twice.",
        discussion: """
            For each backend, coord-chaos starts its own 3-node cluster on loopback (ZooKeeper on \
            ports 24100-24122, etcd on 24130-24135, compacting its history every 10 s; data under \
            /tmp), a fencing sink, and 4 \
            `coord worker` processes (the `coord` built next to this binary) that reach the \
            servers through TCP relays it owns. While a stream of one-shot jobs (a few of them \
            long), a cron job every second and sharded jobs run, some of them cancelled, paused \
            and resumed, or replaced (removed and submitted again) as they wait or run, it injects \
            faults on a seeded schedule: SIGKILL a worker; SIGSTOP a worker past its session TTL \
            (after either, a job the worker ran is cancelled as its session ends); silence a worker's \
            connections and, mostly before its client notices, SIGSTOP the worker alone (its long \
            job's command left running) past the TTL; cut the relays of a worker \
            running a long job past the TTL (its session expires; \
            the worker's session guard or the command's watchdog must stop the command first); SIGKILL a follower or the leader and restart it; SIGTERM a server and restart \
            it (as a rolling restart does); SIGSTOP a server; compact etcd at its current revision.

            Every job reports `begin` and `end` with its fencing token to the sink, which refuses \
            a token older than the newest it accepted for that job. Once the faults stop and the \
            cluster heals, it waits (bounded) for every job to succeed and checks: no job lost, no \
            overlapping runs of one job, stale writes refused, each cron fire time ran at most \
            once, history complete, a woken worker wrote nothing under its old claims, a stalled \
            or cut-off worker's commands ended before its runs were taken over, only a frozen \
            worker's commands wrote after their runs were taken over (the source of every write \
            refused as stale), no worker process exited by itself, a cancelled job started no run \
            after the cancel, a paused job none until resumed, and a replaced job's old \
            incarnation none after the replacement. It shows each phase as it begins (each fault too \
            with --log-level info), prints a Markdown summary per backend and exits 1 when an \
            invariant is violated (naming it, with the evidence), when the run never tried a \
            fault kind or a control (every kind is injected once, past the phase's end if need \
            be), when a run failed or when a backend it was asked for produced no report (each \
            such failure is listed last, naming its backend); everything it started is stopped, on \
            SIGINT too.

              swift build && swift run coord-chaos --quick   # CI: both, under 5 min
              swift run coord-chaos --soak 30m --backend etcd
              swift run coord-chaos --quick --seed 1234      # replay a run
            """)

    @Flag(help: "The CI run: 80 s of faults per backend, both backends within 5 minutes.") var quick = false
    @Option(help: ArgumentHelp("Faults for this long per backend (e.g. 30m, 2h).", valueName: "duration")) var soak: String?
    @Option(help: ArgumentHelp("zookeeper, etcd or both.", valueName: "backend")) var backend: String = "both"
    @Option(help: ArgumentHelp("The seed of the workload and the fault schedule (default: random, printed).", valueName: "n")) var seed: UInt64?
    @Option(help: ArgumentHelp("The coord binary the workers run (default: coord next to coord-chaos).", valueName: "path")) var coord: String?
    @Flag(help: "Keep the run's folder (worker logs, job script) even when every invariant held.") var keepFiles = false
    @Option(help: ArgumentHelp("Log level: info shows each fault as it strikes (default notice).", valueName: "level")) var logLevel: String = "notice"

    func validate() throws {
        guard quick != (soak != nil) else { throw ValidationError("give exactly one of --quick and --soak DURATION") }
        if let soak, DurationText.parse(soak).map({ $0 > .zero }) != true {
            throw ValidationError("--soak \(soak) is not a duration; write it like 90s, 30m or 2h")
        }
        guard ChaosBackend.requested(by: backend) != nil else { throw ValidationError("--backend must be zookeeper, etcd or both") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be trace, debug, info, notice, warning, error or critical") }
    }

    func run() async throws {
        // The one draw not from the seed: the seed itself, printed so the run can be replayed.
        let seed = seed ?? UInt64.random(in: 0...999_999)
        let binary = URL(fileURLWithPath: coord ?? Self.sibling("coord"))
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw ValidationError("no coord binary at \(binary.path); build it first (swift build) or pass --coord")
        }
        var configuration = ChaosConfiguration.requested(backend: backend, seed: seed, soak: soak.flatMap(DurationText.parse), coordBinary: binary)!
        configuration.keepFiles = keepFiles
        var logger = Logger(label: "coord-chaos")
        logger.logLevel = Logger.Level(rawValue: logLevel)!
        Self.say("coord-chaos: seed \(seed) (replay with --seed \(seed)), backends \(configuration.backends.map(\.rawValue).joined(separator: ", "))")

        let started = ContinuousClock.now
        let work = Task { try await ChaosHarness.run(configuration, logger: logger) }
        let interruptions = Self.cancelOnSignals(work)
        defer { for source in interruptions { source.cancel() } }
        let outcomes: [ChaosHarness.Outcome]
        do {
            outcomes = try await work.value
        } catch is CancellationError {
            Self.say("coord-chaos: interrupted; everything it started was stopped")
            throw ExitCode(130)
        }
        for outcome in outcomes {
            Self.say("")
            switch outcome {
            case .report(let report): Self.say(report.markdown)
            case .failed(let backend, let reason): Self.say("### \(backend.rawValue): the run failed (seed \(seed))\n\n\(reason)")
            }
        }
        // Judged against what was asked for, not what came back: a backend that never ran fails.
        let verdict = ChaosVerdict(requested: configuration.backends, seed: seed, outcomes: outcomes)
        for failure in verdict.failures { Self.say("\ncoord-chaos: \(failure) (seed \(seed))") }
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        Self.say("\ncoord-chaos: \(verdict.passed ? "passed" : "FAILED") in \(String(format: "%.0f", seconds)) s (seed \(seed))")
        if !verdict.passed { throw ExitCode(1) }
    }

    /// Writes a line to stdout at once (unbuffered), so that it interleaves with the log lines on stderr.
    static func say(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// A binary next to this one (both are build products of the same package).
    static func sibling(_ name: String) -> String {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return me.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// SIGINT and SIGTERM cancel the run, whose teardown then stops every process it started.
    static func cancelOnSignals(_ work: Task<[ChaosHarness.Outcome], any Error>) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { work.cancel() }
            source.resume()
            return source
        }
    }
}
