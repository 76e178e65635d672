import ArgumentParser
import Coordination
import CoordinationEtcd
import CoordinationZooKeeper

/// `coord bench`: latency and throughput of the store through the `CoordinationStore` API, side
/// by side with a third-party Python client on the same server, and the scheduler's claims per
/// second. It only measures: no figure is checked against a goal.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the store's latency and throughput, beside a Python peer client.",
        discussion: """
            Under a fresh random namespace (deleted afterwards): a warm-up, then --operations \
            sequential creates, gets, sets and deletes, each timed (p50, p99); then --in-flight \
            concurrent tasks doing gets (ZooKeeper, memory) or puts (etcd) for --duration \
            (operations per second). The peer (kazoo for zookeeper://, etcd3gw for etcd://, run \
            with python3) does the same loops against the same server in the same run, its \
            sequential loops in chunks of 50 alternating with coord's, so that drifting load \
            weighs on both alike; the table shows both and their ratio. On ZooKeeper the C \
            client's own synchronous loop (zoo_create, zoo_get, zoo_set, zoo_delete on one \
            thread) is interleaved too, as the floor; on etcd a bare libcurl loop doing \
            etcd3gw's requests, one blocking request at a time on one thread. The floor's \
            figures against the peer's show what a bare synchronous C client gets against the \
            peer on this server. On those two servers coord's loop runs a second time on its \
            completion executor (ZooKeeperStore.completionExecutor, \
            EtcdStore.completionExecutor: continuing where each reply arrives). \
            --claims N adds the scheduler's claims per second: N no-op one-shot jobs run by \
            --claim-workers in-process workers (4), each on a handle of its own with \
            --claim-capacity slots (4, a worker's default), with the number of claim \
            transactions they lost, after --claim-warm-up jobs run untimed (500: a ZooKeeper \
            server's JVM is slow until it has compiled its hot paths). Compare 1 worker with 16 slots against 4 with 4: each job is \
            watched by the leader and by its bucket's owner, so more workers cost little more. \
            --watchers N adds watch delivery latency: N watches on one key of one handle, 20 \
            writes, each timed until every watcher has its event (p50, p99 over all deliveries).

            Reading the table: ratios are peer / coord for latency and coord / peer for \
            throughput, so above 1 means coord is faster; against the C client's loop (rows \
            "vs libzookeeper sync loop", "vs libcurl sync loop") 0.87 or more is within 15%. \
            Figures vary from run to run on a loaded machine (the header shows cores and load \
            average): compare rows of the same run, not figures across runs. On memory:// there \
            is no peer and no floor, only coord's rows.

            How long: on a loopback server with the defaults, well under a minute: the \
            sequential loops (--operations each of four kinds, for each of coord, the floor, \
            coord on its completion executor and the peer), then --duration twice. The peer's \
            start and its 100 warm-up rounds take a few seconds, whatever --operations is. \
            --claims adds --claim-warm-up jobs and then the N timed ones, --watchers 20 timed writes. \
            Jobs that have not all run within a minute and 50ms a job (a scheduler that slow, or \
            stuck), or a job's handler run twice, end the bench with status 1: give fewer --claims.

            The peer needs python3 with kazoo (ZooKeeper) or etcd3gw (etcd): \
            python3 -m pip install kazoo etcd3gw; --peer none measures without it. A peer that \
            cannot start or fails ends the bench with status 1, with its last words.
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    // Unconditional: a negative number is taken as the value (and refused by name), not as an option.
    @Option(parsing: .unconditional, help: "Sequential operations of each kind (1 to \(Limits.operations.upperBound)).") var operations = 1000
    @Option(parsing: .unconditional, help: "Concurrent operations in the pipelined loop (1 to \(Limits.inFlight.upperBound)).") var inFlight = 64
    @Option(parsing: .unconditional, help: "How long the pipelined loop runs (5s, 500ms).") var duration = "5s"
    @Option(help: "The peer client: auto, kazoo, etcd3gw or none.") var peer = "auto"
    @Option(parsing: .unconditional, help: "No-op jobs for the claims measure (0 skips it; at most \(Limits.jobs.upperBound)).") var claims = 0
    @Option(parsing: .unconditional, help: "In-process workers for the claims measure, each on a handle of its own (1 to \(Limits.claimWorkers.upperBound)).")
    var claimWorkers = 4
    @Option(parsing: .unconditional, help: "Each claims worker's capacity: handlers at once (1 to \(Limits.claimCapacity.upperBound)).") var claimCapacity = 4
    @Option(parsing: .unconditional, help: "No-op jobs run untimed before the claims measure (at most \(Limits.jobs.upperBound)).") var claimWarmUp = 500
    @Option(parsing: .unconditional, help: "Watchers for the watch-delivery measure (0 skips it; at most \(Limits.watchers.upperBound)).") var watchers = 0
    @Flag(help: "Print a Markdown table.") var markdown = false

    /// Checked first in `run()`, not in `validate()`, so that a bad value is coord's one line
    /// (status 64), as for every command's own options, not argument-parser's usage text.
    func checkOptions() throws {
        try CountLimits.check("--operations", operations, Limits.operations, "every operation's time is kept, for each kind and each client")
        try CountLimits.check("--in-flight", inFlight, Limits.inFlight, "each is a key created first, and a thread of the peer (of etcd3gw, with a connection of its own)")
        try CountLimits.check("--claims", claims, Limits.jobs, "each job is several keys on the server, kept until the bench ends")
        try CountLimits.check("--claim-workers", claimWorkers, Limits.claimWorkers, "each is a store handle of its own, as for coord run --workers")
        try CountLimits.check("--claim-capacity", claimCapacity, Limits.claimCapacity, "each slot is a handler that may run at once in this process")
        try CountLimits.check("--claim-warm-up", claimWarmUp, Limits.jobs, "each job is several keys on the server, kept until the bench ends")
        try CountLimits.check("--watchers", watchers, Limits.watchers, "each delivery is timed and kept")
        _ = try OptionValue.duration(duration, option: "--duration")
        guard peer == "auto" || peer == "none" || BenchPeer(rawValue: peer) != nil else {
            throw CommandLineProblem("--peer must be auto, kazoo, etcd3gw or none, not '\(peer)'")
        }
    }

    func run() async throws {
        try checkOptions()
        let context = try await CommandContext.make(global)
        let pipelinedFor = DurationText.parse(duration) ?? .seconds(5)
        var url = context.storeURL
        let peerClient: BenchPeer?
        switch peer {
        case "none": peerClient = nil
        case "auto": peerClient = BenchPeer.automatic(for: url.scheme)
        default:
            let chosen = BenchPeer(rawValue: peer)!
            guard chosen.accepts(url.scheme) else {
                throw CommandLineProblem(
                    "--peer \(peer) talks to \(chosen.scheme):// stores only, not \(url.scheme)://: use --peer none, or --peer auto "
                        + "(kazoo for zookeeper://, etcd3gw for etcd://, none otherwise)")
            }
            peerClient = chosen
        }
        let benchFolder = try Key.root.child("coord-bench-\(UInt32.random(in: 0...UInt32.max))")
        url.namespace = try url.namespace.child(benchFolder.name)
        let benchURL = url
        let logger = context.logger
        let open: @Sendable () async throws -> any CoordinationStore = {
            try await CommandContext.registry.open(benchURL, logger: logger)
        }
        let warmup = min(100, operations)
        var report = BenchReport(
            store: context.storeURL.description,
            settings: "\(operations) sequential operations each (after \(warmup) warm-up), \(inFlight) in flight for \(DurationText.format(pipelinedFor))",
            peerName: peerClient?.rawValue)

        let store = try await open()
        var floor: (any BenchFloor)?
        var onCompletionExecutor: BenchCompletionExecutorLoop?
        do {
            // The floor: a C client's own synchronous loop on the same server in the same run,
            // alternating with coord's chunk by chunk; and coord's loop once more where replies arrive.
            if url.scheme == "zookeeper" {
                floor = try await ZooKeeperSyncLoop.open(
                    configuration: try ZooKeeperConfiguration(url: benchURL), folder: url.namespace.path + "/csync",
                    warmup: warmup, value: BenchRunner.value)
            } else if url.scheme.hasPrefix("etcd") {
                floor = try await EtcdSyncLoop.open(
                    configuration: try EtcdConfiguration(url: benchURL), folder: url.namespace.path + "/csync",
                    warmup: warmup, value: BenchRunner.value)
            }
            if floor != nil {
                onCompletionExecutor = try await BenchCompletionExecutorLoop.open(store: store, warmup: warmup)
            }
            // The peer's sequential loops alternate with coord's (and the C client's) chunk by
            // chunk; then each client's pipelined loop runs in turn.
            func measure(_ session: BenchPeerSession?) async throws -> (ours: BenchFigures, theirs: BenchFigures?) {
                let baselines: [any InterleavedBaseline] = [
                    floor as (any InterleavedBaseline)?, onCompletionExecutor, session,
                ].compactMap { $0 }
                let ours = try await BenchRunner(
                    store: store, operations: operations, warmup: warmup, inFlight: inFlight, duration: pipelinedFor,
                    pipelinedWrites: url.scheme.hasPrefix("etcd"), baselines: baselines
                ).run()
                guard let session, let latencies = ours.baselines.last else { return (ours, nil) }
                let pipelined = try await session.pipelined(inFlight: inFlight, duration: pipelinedFor)
                return (ours, BenchFigures(latencies: latencies, throughput: pipelined.throughput, throughputOperation: pipelined.operation))
            }
            let (ours, theirs) =
                if let peerClient {
                    try await peerClient.withSession(hosts: url.hosts, prefix: url.namespace.path, warmup: warmup) {
                        try await measure($0)
                    }
                } else {
                    try await measure(nil)
                }
            report.addLatencies(ours, theirs)
            report.addThroughput(ours, theirs, inFlight: inFlight)
            // The floor, when it ran, is the first baseline and coord on its completion executor
            // the second. The floor in coord's place against the peer shows what a bare
            // synchronous C client gets against the peer on this server.
            if let floor, let floorLatencies = ours.baselines.first, ours.baselines.count > 1 {
                let onExecutor = BenchFigures(latencies: ours.baselines[1])
                report.addBaseline(floor.name, ours, floorLatencies)
                report.addBaseline("\(floor.name), coord on its completion executor", onExecutor, floorLatencies)
                if let theirs, let peerName = peerClient?.rawValue {
                    report.addBaseline("\(peerName), coord on its completion executor", onExecutor, theirs.latencies)
                    report.addBaseline(
                        "\(peerName), the \(floor.name) in coord's column", BenchFigures(latencies: floorLatencies), theirs.latencies)
                }
            }
            await floor?.close()
            floor = nil
            if watchers > 0 {
                let result = try await BenchWatchers(store: store, watchers: watchers, writes: 20).run()
                report.addWatchDelivery(watchers: watchers, writes: 20, result)
            }
            if claims > 0 {
                let result = try await BenchClaims(
                    jobs: claims, workers: claimWorkers, capacity: claimCapacity, warmUp: claimWarmUp, open: open, logger: logger
                ).run()
                report.addClaims(jobs: claims, workers: claimWorkers, capacity: claimCapacity, warmUp: claimWarmUp, result)
            }
        } catch {
            await floor?.close()
            await store.close()
            await Self.remove(benchFolder, context: context)
            throw error
        }
        await store.close()
        await Self.remove(benchFolder, context: context)
        StandardStreams.writeLine(markdown ? report.markdown : report.plain)
    }

    /// The ranges of the counts bench takes: far beyond a useful measure (a million operations
    /// of each kind take over an hour on a loopback server), short of what cannot end or fit in memory
    /// (`--operations 1000000000000` asked for 16 TB of samples; `--in-flight 100000000` created
    /// as many keys before the loop started).
    enum Limits {
        static let operations = 1...1_000_000
        static let inFlight = 1...1024
        static let jobs = 0...100_000
        static let claimWorkers = CountLimits.inProcessWorkers
        static let claimCapacity = CountLimits.capacity
        static let watchers = 0...10_000
    }

    /// Deletes the bench namespace with everything in it, through a handle on the namespace
    /// the user gave (deleting the root of a namespace would leave its own node behind).
    private static func remove(_ folder: Key, context: CommandContext) async {
        try? await context.withStore { store in try await store.delete(folder, ifVersion: nil, recursive: true) }
    }
}

/// A C client's own synchronous loop on the same server: the floor coord's latencies are held to.
protocol BenchFloor: InterleavedBaseline {
    /// How the report's rows name it.
    var name: String { get }
    func close() async
}

extension ZooKeeperSyncLoop: BenchFloor {
    var name: String { "libzookeeper sync loop" }
}

extension EtcdSyncLoop: BenchFloor {
    var name: String { "libcurl sync loop" }
}
