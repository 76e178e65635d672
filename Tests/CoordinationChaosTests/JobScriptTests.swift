import Foundation
import Testing

@testable import CoordinationChaos

/// The chaos job's script is what makes a run a test of fencing: it must report its begin and end
/// (with its shard) to the sink, fail when the sink refuses it as stale, and fail its first attempt
/// when told to. Run for real: bash and the sink, as a worker's shell handler would run it.
@Suite("The chaos job script")
struct JobScriptTests {
    /// Runs `command` through bash with the variables the shell handler gives a run; how it ended:
    /// "exit N" or "signal N".
    static func run(_ command: String, job: String, shard: Int?, token: Int64, attempt: Int) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", command]
        var variables = [
            "PATH": "/usr/bin:/bin", "COORD_JOB_ID": job, "COORD_FENCING_TOKEN": String(token), "COORD_RUN_ID": "r\(token)",
            "COORD_WORKER_ID": "w1-1", "COORD_ATTEMPT": String(attempt),
        ]
        if let shard { variables["COORD_SHARD"] = String(shard) }
        process.environment = variables
        return try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { ended in
                continuation.resume(returning: "\(ended.terminationReason == .exit ? "exit" : "signal") \(ended.terminationStatus)")
            }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
    }

    /// The script installed in a folder of its own, and a sink to report to; both gone with `finish`.
    /// Not named `coord-chaos-…`: the script's command line holds the folder, and an etcd start
    /// elsewhere in the run (``LeftoverServers/reapOnce()``) SIGKILLs such processes as leftovers.
    static func fixture() throws -> (script: String, sink: FencingSink, finish: () -> Void) {
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("chaos-test-script-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let sink = try FencingSink(started: .now)
        return (try JobScript.install(in: folder), sink, {
            sink.stop()
            try? FileManager.default.removeItem(at: folder)
        })
    }

    @Test("a run reports its begin and its end, with its shard, token, run, worker and attempt, and succeeds")
    func reportsBeginAndEnd() async throws {
        let (script, sink, finish) = try Self.fixture()
        defer { finish() }
        let command = JobScript.command(script: script, sinkPort: sink.port, work: .milliseconds(20), failFirstAttempt: false)
        #expect(try await Self.run(command, job: "shard-001", shard: 2, token: 7, attempt: 1) == "exit 0")
        let resource = ResourceID(job: "shard-001", item: 2)
        #expect(
            sink.writes.map(\.report) == [
                SinkReport(kind: .begin, resource: resource, token: 7, run: "r7", worker: "w1-1", attempt: 1),
                SinkReport(kind: .end, resource: resource, token: 7, run: "r7", worker: "w1-1", attempt: 1),
            ])
        #expect(sink.writes.allSatisfy { $0.accepted })
        #expect(sink.openRuns.isEmpty)
    }

    @Test("a run the sink refuses as stale fails, and reports nothing after the refusal")
    func staleFails() async throws {
        let (script, sink, finish) = try Self.fixture()
        defer { finish() }
        let command = JobScript.command(script: script, sinkPort: sink.port, work: .milliseconds(20), failFirstAttempt: false)
        #expect(try await Self.run(command, job: "once-0001", shard: nil, token: 9, attempt: 1) == "exit 0")
        #expect(try await Self.run(command, job: "once-0001", shard: nil, token: 8, attempt: 1) == "exit 3", "the refusal fails the command")
        #expect(sink.writes.map(\.accepted) == [true, true, false])
    }

    @Test("a job told to fail its first attempt fails it after its end, and succeeds on the next")
    func failsFirstAttempt() async throws {
        let (script, sink, finish) = try Self.fixture()
        defer { finish() }
        let failing = JobScript.command(script: script, sinkPort: sink.port, work: .milliseconds(20), failFirstAttempt: true)
        #expect(try await Self.run(failing, job: "once-0002", shard: nil, token: 3, attempt: 1) == "exit 1")
        #expect(try await Self.run(failing, job: "once-0002", shard: nil, token: 4, attempt: 2) == "exit 0")
        #expect(sink.writes.map(\.report.kind) == [.begin, .end, .begin, .end])
        let steady = JobScript.command(script: script, sinkPort: sink.port, work: .milliseconds(20), failFirstAttempt: false)
        #expect(try await Self.run(steady, job: "once-0003", shard: nil, token: 5, attempt: 1) == "exit 0")
    }
}
