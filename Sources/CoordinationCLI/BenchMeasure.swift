import Coordination

/// Per-operation latencies of one sequential loop, in seconds, and what the report needs of them.
struct LatencySamples: Sendable {
    var seconds: [Double]

    /// The nearest-rank percentile (`fraction` in 0…1), in seconds; 0 when there are no samples.
    func percentile(_ fraction: Double) -> Double {
        guard !seconds.isEmpty else { return 0 }
        let sorted = seconds.sorted()
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }

    var p50: Double { percentile(0.50) }
    var p99: Double { percentile(0.99) }
}

/// The figures of one client (coord's store or a peer) for one run.
struct BenchFigures: Sendable {
    /// Sequential latencies per operation, in `BenchRunner.operations` order.
    var latencies: [String: LatencySamples] = [:]
    /// Pipelined operations per second, and which operation was pipelined.
    var throughput: Double = 0
    var throughputOperation = "get"
    /// Each interleaved baseline's sequential latencies, in the order of `BenchRunner.baselines`.
    var baselines: [[String: LatencySamples]] = []
}

/// Another client's sequential loop (the C client's, the peer's) that the bench runs in chunks
/// alternating with coord's, on the same keys' names in a folder of its own, so that load
/// drifting during a run (builds, other processes, the server's own warming up) weighs on every
/// client alike and their ratio measures the client, not the moment.
protocol InterleavedBaseline: Sendable {
    /// Seconds per call of `operation` on the baseline's keys numbered `indices`.
    func timed(_ operation: String, indices: Range<Int>) async throws -> [Double]
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// The Swift side of the benchmark: the same loops the peers run, through `CoordinationStore`.
/// Every key lives under the bench namespace the store was opened on.
struct BenchRunner: Sendable {
    static let operations = ["create", "get", "set", "delete"]

    let store: any CoordinationStore
    let operations: Int
    let warmup: Int
    let inFlight: Int
    let duration: Duration
    /// etcd's pipelined loop writes (its reads are cheap linearizable ranges, writes are what
    /// matter there); ZooKeeper's and the embedded store's read.
    let pipelinedWrites: Bool
    var baselines: [any InterleavedBaseline] = []
    /// Operations per chunk when baselines alternate with coord's loop.
    static let chunk = 50

    static let value = [UInt8](repeating: UInt8(ascii: "v"), count: 32)

    func run() async throws -> BenchFigures {
        var figures = BenchFigures()
        try await Self.warmUp(store, in: try Key("/coord"), count: warmup)
        let keys = try (0..<operations).map { try Key("/coord/k-\($0)") }
        let store = self.store
        figures.baselines = Array(repeating: [:], count: baselines.count)
        let clients = baselines.count + 1  // coord is client 0
        for name in Self.operations {
            let operation: @Sendable (Key) async throws -> Void = { try await Self.perform(name, on: store, key: $0) }
            var samples = [[Double]](repeating: [], count: clients)
            let chunk = baselines.isEmpty ? max(1, keys.count) : Self.chunk
            for (round, start) in stride(from: 0, to: keys.count, by: chunk).enumerated() {
                let indices = start..<min(keys.count, start + chunk)
                for client in Self.order(round: round, clients: clients) {
                    samples[client] +=
                        client == 0
                        ? try await Self.timed(keys[indices], operation)
                        : try await baselines[client - 1].timed(name, indices: indices)
                }
            }
            figures.latencies[name] = LatencySamples(seconds: samples[0])
            for index in baselines.indices { figures.baselines[index][name] = LatencySamples(seconds: samples[index + 1]) }
        }
        figures.throughputOperation = pipelinedWrites ? "put" : "get"
        figures.throughput = try await pipelined()
        return figures
    }

    /// One call of the loop named `operation` (one of ``operations``) on `key`.
    static func perform(_ operation: String, on store: any CoordinationStore, key: Key) async throws {
        switch operation {
        case "create": _ = try await store.create(key, value: value, mode: .persistent)
        case "get": guard try await store.get(key) != nil else { throw CoordinationError.noNode(key) }
        case "set": _ = try await store.set(key, value: value, ifVersion: nil)
        default: try await store.delete(key, ifVersion: nil, recursive: false)
        }
    }

    /// The clients' order in chunk round `round`: coord, then the others in the round's
    /// permutation of them (all of them in turn, in lexicographic order).
    ///
    /// What ran just before a chunk weighs on it (caches, the server's state after another
    /// client's burst), so every client must follow every other one equally often across the
    /// whole sequence of chunks. Rotating all clients did not do that: with three, coord followed
    /// the peer in two chunks of three and the C loop in one of three. Rotating the others behind
    /// coord did for three clients, not for four (the peer followed coord's completion-executor
    /// loop in every round and the C loop in none). Going through every permutation of the others
    /// does for any number: each ordered pair of clients meets equally often in every
    /// (clients - 1)! rounds, and with four clients no cut of the sequence is off by more than two.
    static func order(round: Int, clients: Int) -> [Int] {
        let others = clients - 1
        guard others > 0 else { return [0] }
        func factorial(_ k: Int) -> Int { k <= 1 ? 1 : (2...k).reduce(1, *) }
        // The permutation numbered `round` modulo others!, read off its factorial-base digits.
        var remaining = Array(1...others)
        var index = round % factorial(others)
        var order = [0]
        for place in stride(from: others - 1, through: 0, by: -1) {
            order.append(remaining.remove(at: index / factorial(place)))
            index %= factorial(place)
        }
        return order
    }

    /// Creates `folder`, then runs the four operations on `count` keys of their own in it, untimed.
    static func warmUp(_ store: any CoordinationStore, in folder: Key, count: Int) async throws {
        _ = try await store.create(folder, value: [], mode: .persistent)
        for index in 0..<count {
            let key = try folder.child("w-\(index)")
            for operation in operations { try await perform(operation, on: store, key: key) }
        }
    }

    /// Seconds per call of `operation` on each of `keys`, one after another.
    static func timed(_ keys: some Collection<Key>, _ operation: (Key) async throws -> Void) async throws -> [Double] {
        let clock = ContinuousClock()
        var samples: [Double] = []
        samples.reserveCapacity(keys.count)
        for key in keys {
            let start = clock.now
            try await operation(key)
            samples.append((clock.now - start).seconds)
        }
        return samples
    }

    /// `inFlight` tasks, each looping on a key of its own until `duration` is over: total
    /// operations per second of wall time.
    private func pipelined() async throws -> Double {
        let keys = try (0..<inFlight).map { try Key("/coord/p-\($0)") }
        for key in keys { _ = try await store.create(key, value: Self.value, mode: .persistent) }
        let clock = ContinuousClock()
        let start = clock.now
        let end = start.advanced(by: duration)
        let store = self.store
        let writes = pipelinedWrites
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for key in keys {
                group.addTask {
                    var count = 0
                    while clock.now < end {
                        if writes {
                            _ = try await store.set(key, value: Self.value, ifVersion: nil)
                        } else {
                            _ = try await store.get(key)
                        }
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = (clock.now - start).seconds
        return elapsed > 0 ? Double(total) / elapsed : 0
    }
}
