import Coordination
import Logging

/// The steps of `coord demo`. Each step prints what it does and what the store answered.
struct DemoTour {
    let registry: StoreRegistry
    let url: String
    let logger: Logger

    private let top = Self.key("/demo")
    private let config = Self.key("/demo/config")
    private let color = Self.key("/demo/config/color")
    private let size = Self.key("/demo/config/size")
    private let shape = Self.key("/demo/config/shape")
    private let queue = Self.key("/demo/queue")
    private let worker = Self.key("/demo/workers/w1")

    func run() async throws {
        say("coord demo: a tour of a coordination store, on the embedded store \(url).")
        say("It lives inside this process; the same calls on ZooKeeper or etcd (coord kv, lock, elect, members with --store) share keys between machines.")
        let store = try await registry.open(url, logger: logger)
        do {
            try await keysAndValues(store)
            try await versions(store)
            try await sequentialQueue(store)
            try await ephemeralKey(store)
            try await failingTransaction(store)
            try await watch(store)
            try await tree(store)
            await store.close()
        } catch {
            await store.close()
            throw error
        }
        say("")
        say("Done. Try it yourself: coord kv --help.")
    }

    private func keysAndValues(_ store: some CoordinationStore) async throws {
        step(1, "Keys are paths; values are bytes")
        for (key, value) in [(color, "blue"), (size, "3")] {
            let record = try await store.put(key, value: Array(value.utf8))
            say("   put \(key) = \"\(value)\"  → version \(record.version), createRevision \(record.createRevision)")
        }
        let parents = try await store.children(of: top)
        say("   the parents were created too: ls \(top) → \(parents.joined(separator: " "))")
    }

    private func versions(_ store: some CoordinationStore) async throws {
        step(2, "Versions guard against lost updates")
        let record = try await store.set(color, string: "green", ifVersion: 0)
        say("   set \(color) = \"green\" if at version 0  → version \(record.version)")
        do {
            _ = try await store.set(color, string: "red", ifVersion: 0)
            say("   set \(color) = \"red\" if at version 0  → unexpectedly accepted")
        } catch let error as CoordinationError where error.code == .versionConflict {
            say("   set \(color) = \"red\" if at version 0  → refused (\(error.code.rawValue)): \(error.message)")
        }
    }

    private func sequentialQueue(_ store: some CoordinationStore) async throws {
        step(3, "Sequential keys make a queue")
        let prefix = try queue.child("job-")
        for task in ["resize", "upload", "notify"] {
            let record = try await store.create(prefix, string: task, mode: .sequential)
            say("   create \(prefix) (sequential) \"\(task)\"  → \(record.key)")
        }
        let jobs = try await store.children(of: queue)
        say("   ls \(queue)  → \(jobs.joined(separator: " "))")
        if let first = jobs.first {
            let key = try queue.child(first)
            let record = try await store.get(key)
            try await store.delete(key, ifVersion: record?.version)
            say("   take the oldest: get and delete \(key) (\"\(record?.string ?? "")\")")
        }
    }

    private func ephemeralKey(_ store: some CoordinationStore) async throws {
        step(4, "An ephemeral key vanishes with its session")
        let workerSession = try await registry.open(url, logger: logger)
        do {
            _ = try await workerSession.create(worker, string: "alive", mode: .ephemeral)
        } catch {
            await workerSession.close()
            throw error
        }
        say("   a second session (a worker) creates \(worker) (ephemeral)")
        say("   exists \(worker)  → \(try await store.exists(worker))")
        await workerSession.close()
        say("   the worker's session closes")
        say("   exists \(worker)  → \(try await store.exists(worker))")
    }

    private func failingTransaction(_ store: some CoordinationStore) async throws {
        step(5, "A transaction applies all of its operations or none")
        let operations: [Operation] = [
            .check(color, version: 1),
            .set(size, value: Array("4".utf8), ifVersion: nil),
            .create(color, value: Array("purple".utf8), mode: .persistent),
        ]
        say("   transaction: check \(color) is at version 1; set \(size) = \"4\"; create \(color) = \"purple\"")
        do {
            _ = try await store.transaction(operations)
            say("   → unexpectedly applied")
        } catch let error as CoordinationError {
            say("   → refused (\(error.code.rawValue)): \(error.message)")
        }
        let current = try await store.get(size)
        say("   get \(size)  → \"\(current?.string ?? "")\" (the set in operation 2 was not applied)")
    }

    private func watch(_ store: some CoordinationStore) async throws {
        step(6, "A watch sees a snapshot, then every change")
        let config = self.config, size = self.size, shape = self.shape
        let (snapshotSeen, signalSnapshot) = AsyncStream<Void>.makeStream()
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                defer { signalSnapshot.finish() }
                for try await event in store.watch(config, scope: .subtree) {
                    say("   watch: " + Self.describe(event))
                    switch event {
                    case .snapshot: signalSnapshot.yield()
                    case .delete(let key) where key == size: return true
                    default: break
                    }
                }
                return false
            }
            var snapshots = snapshotSeen.makeAsyncIterator()
            _ = await snapshots.next()
            say("   (now writing: put \(shape) = \"round\", then rm \(size))")
            _ = try await store.put(shape, value: Array("round".utf8))
            try await store.delete(size)
            // A bound, so that a watch that stays silent cannot hang the demo.
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                return false
            }
            let sawEverything = try await group.next() ?? false
            group.cancelAll()
            if !sawEverything { say("   (no further events within 5 s)") }
        }
    }

    private func tree(_ store: some CoordinationStore) async throws {
        step(7, "What is left (coord kv tree \(top))")
        var tree = TreeText()
        for try await record in store.walk(top) {
            say("   " + tree.line(for: record))
        }
    }

    private static func describe(_ event: WatchEvent) -> String {
        switch event {
        case .snapshot(let records):
            let keys = records.map { "\($0.key)=\"\($0.string)\"" }.joined(separator: ", ")
            return "snapshot of \(records.count) keys: \(keys)"
        case .put(let record): return "put \(record.key) = \"\(record.string)\" (version \(record.version))"
        case .delete(let key): return "delete \(key)"
        }
    }

    private func step(_ number: Int, _ title: String) {
        say("")
        say("\(number). \(title)")
    }

    private static func key(_ path: String) -> Key {
        // Literal paths, valid by inspection.
        try! Key(path)
    }
}

private func say(_ line: String) {
    StandardStreams.writeLine(line)
}
