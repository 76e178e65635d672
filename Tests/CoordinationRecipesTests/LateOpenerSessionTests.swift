import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// A handle's session is kept by the store, not by the task that opened it: an opening task that
/// waits for a thread for longer than the TTL (the cooperative pool busy with other work) finds
/// the session it opened with still there. On etcd it was not: the thread that renews the lease
/// was started by that task, and the first renewal came after etcd had ended the lease.
@Suite(.serverLoadLimit) struct LateOpenerSessionTests {
    @Test(arguments: RecipeBackend.all)
    func aHandleWhoseOpeningTaskWaitedForAThreadKeepsItsSession(backend: RecipeBackend) async throws {
        let handles = try TestHandles(backend, ttl: .seconds(2))
        defer { Task { await handles.closeAll() } }
        // The opening task runs to its first suspension (on etcd, waiting for its lease to be
        // granted), then waits on an executor of its own, held for twice the TTL.
        let executor = HeldExecutor()
        defer { executor.stop() }
        executor.holdAfterNextJob()
        let opening = Task(executorPreference: executor) { try await backend.open(handles.namespace, handles.ttl) }
        try await withDeadline("the opening task's first suspension") {
            while !executor.isHolding { try await Task.sleep(for: .milliseconds(5)) }
        }
        try await Task.sleep(for: handles.ttl * 2)
        executor.release()
        let store = try await opening.value
        defer { Task { await store.close() } }
        let opened = store.session
        #expect(opened.state == .connected, "\(opened)")
        // For a whole TTL after the release, any renewal that was due is made, or finds the
        // session gone and reports it.
        let change = await FirstAnswer.within(handles.ttl) { [store] () -> SessionEvent? in
            for await event in store.sessionEvents() where event.state != .connected || event.sessionID != opened.sessionID {
                return event
            }
            return nil
        } ?? nil
        #expect(change == nil, "the session opened with is kept: \(String(describing: change))")
        #expect(store.session.sessionID == opened.sessionID, "\(store.session)")
    }
}
