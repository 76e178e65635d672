import Coordination
import CoordinationMemory
import CoordinationScheduler
import CoordinationTestSupport
import Synchronization
import Testing

/// A worker started while its store fails waits for the store instead of exiting.
@Suite(.serverLoadLimit) struct WorkerStartTests {
    /// Fails the first `failures` existence checks with `unavailable`, as a store still out of
    /// reach would (the worker's start checks its folders).
    final class UnreachableAtFirst: ForwardingStore {
        let base: any CoordinationStore
        private let remaining: Mutex<Int>
        let failed = Mutex(0)

        init(_ base: any CoordinationStore, failures: Int) {
            self.base = base
            self.remaining = Mutex(failures)
        }

        func exists(_ key: Key) async throws -> Bool {
            let refuse = remaining.withLock { left in
                guard left > 0 else { return false }
                left -= 1
                return true
            }
            if refuse {
                failed.withLock { $0 += 1 }
                throw CoordinationError(.unavailable, "no server answered (simulated)", key: key)
            }
            return try await base.exists(key)
        }
    }

    @Test(arguments: SchedulerBackend.all)
    func aWorkerStartedWhileTheStoreFailsWaitsForItThenRuns(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[String: Int]>([:])
        let flaky = Shared<UnreachableAtFirst?>(nil)
        try await cluster.startWorker("w", handlers: ["noop": countingHandler(calls)]) { store in
            let wrapped = UnreachableAtFirst(store, failures: 3)
            flaky.withLock { $0 = wrapped }
            return wrapped
        }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "j", handler: "noop"))
        _ = try await cluster.waitForHistory("the job to run") { $0.contains { $0.job == "j" && $0.outcome == .succeeded } }
        #expect(flaky.value?.failed.withLock { $0 } == 3, "the start failed three times first")
        #expect(calls.value.values.reduce(0, +) == 1)
    }
}

/// A worker's configuration is checked when it is made, with an error that names the setting.
@Suite struct WorkerConfigurationTests {
    @Test func badSettingsAreRefusedByName() async throws {
        let store = try await MemoryServer().connect(namespace: .root, sessionTTL: .seconds(5))
        defer { Task { await store.close() } }
        func refusal(_ configuration: Worker.Configuration) -> String? {
            do {
                _ = try Worker(store: store, id: "w", configuration: configuration, handlers: [:])
                return nil
            } catch {
                return error.code == .invalidConfiguration ? error.message : "\(error)"
            }
        }
        #expect(refusal(Worker.Configuration(capacity: 0))?.contains("capacity must be between 1 and 1024, got 0") == true)
        #expect(refusal(Worker.Configuration(capacity: 1025))?.contains("capacity must be between 1 and 1024, got 1025") == true)
        #expect(refusal(Worker.Configuration(capacity: 1024)) == nil)
        #expect(refusal(Worker.Configuration(weight: 0))?.contains("weight must be between 1 and 1000, got 0") == true)
        #expect(refusal(Worker.Configuration(weight: .max))?.contains("weight must be between 1 and 1000, got \(Int.max)") == true)
        var negative = Worker.Configuration()
        negative.helpAfterIdle = .seconds(-1)
        #expect(refusal(negative)?.contains("helpAfterIdle must not be negative") == true)
        var never = Worker.Configuration()
        never.helpAfterIdle = nil
        #expect(refusal(never) == nil, "nil: never helps")
    }
}
