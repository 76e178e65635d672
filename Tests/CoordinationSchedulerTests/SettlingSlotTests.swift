import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Synchronization
import Testing

/// A worker's capacity counts handlers: a run whose handler returned gives its slot up while its
/// end is recorded, and never sooner.
@Suite(.serverLoadLimit) struct SettlingSlotTests {
    /// Holds the first listing of one job's history folder (the end of a run whose history may
    /// need trimming reads it before its transaction) until released.
    final class HeldHistoryRead: ForwardingStore {
        let base: any CoordinationStore
        private let folder: Key
        private let holding = Mutex(false)
        let held = Signal()
        private let release = Signal()

        init(_ base: any CoordinationStore, folder: Key) {
            self.base = base
            self.folder = folder
        }

        func children(of key: Key) async throws -> [String] {
            let hold = key == folder && holding.withLock { holding in
                defer { holding = true }
                return !holding
            }
            if hold {
                held.fire()
                await release.wait()
            }
            return try await base.children(of: key)
        }

        func letGo() { release.fire() }
    }

    /// With capacity 1, the second job's handler starts while the first run's end is still on its
    /// way (held in its history read). Before, the slot was held until the end landed, so the
    /// second handler waited for it.
    @Test(arguments: SchedulerBackend.all)
    func aSlotIsFreeWhileTheEndOfItsRunIsRecorded(backend: SchedulerBackend) async throws {
        // One entry per job at most, and a retry allowed: the end cannot know the history has
        // room (``HistoryRoom``), so it lists the history first.
        let cluster = try TestCluster(backend, layout: SchedulerLayout(historyLimit: 1))
        defer { Task { await cluster.shutdown() } }
        let started = Shared<[String]>([])
        let secondStarted = Signal()
        let handler: JobHandler = { context in
            started.withLock { $0.append(context.job) }
            if context.job == "second" { secondStarted.fire() }
            return RunOutput()
        }
        let folder = try cluster.layout.history(of: "first")
        let wrapper = Shared<HeldHistoryRead?>(nil)
        try await cluster.startWorker("w", capacity: 1, handlers: ["work": handler]) { store in
            let held = HeldHistoryRead(store, folder: folder)
            wrapper.withLock { $0 = held }
            return held
        }
        let store = try #require(wrapper.value)
        defer { store.letGo() }  // a failing test must not leave the worker's end held
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "first", handler: "work", retry: RetryPolicy(maxRetries: 1)))
        try await withDeadline("the end of the first run to list its history") { await store.held.wait() }
        try await client.submit(JobSpec(id: "second", handler: "work"))
        try await withDeadline("the second handler, while the first run's end is held", limit: .seconds(20)) {
            await secondStarted.wait()
        }
        store.letGo()
        let history = try await cluster.waitForHistory("both successes") { entries in
            successes("first")(entries) && successes("second")(entries)
        }
        #expect(history.filter { $0.outcome == .succeeded }.count == 2)
        #expect(started.value == ["first", "second"])
    }

    /// A slot frees when a handler returns, never sooner: six jobs whose handlers take a moment,
    /// submitted together to a worker of capacity 2, never have three handlers at once.
    @Test(arguments: SchedulerBackend.all)
    func handlersNeverOutnumberTheCapacity(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let running = Shared<(now: Int, most: Int)>((0, 0))
        let handler: JobHandler = { _ in
            running.withLock { state in
                state.now += 1
                state.most = max(state.most, state.now)
            }
            defer { running.withLock { $0.now -= 1 } }
            try await Task.sleep(for: .milliseconds(100))  // the handler's work
            return RunOutput()
        }
        try await cluster.startWorker("w", capacity: 2, handlers: ["work": handler])
        let client = try await cluster.client()
        try await client.submit((0..<6).map { JobSpec(id: "job-\($0)", handler: "work") })
        let history = try await cluster.waitForHistory("six successes") { $0.filter { $0.outcome == .succeeded }.count >= 6 }
        #expect(history.count == 6)
        #expect(running.value.most <= 2, "at most two handlers at once at capacity 2, saw \(running.value.most)")
    }
}
