import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// A release made once its session has been replaced starts a late-entry sweep for that ended
/// session (a create of its join may have been lost): the sweep ends at once, since the entries
/// went with the session. Waiting for the session to be reported expired, an event already past,
/// it stayed, a task and a session listener, for as long as the handle lived.
@Suite(.serverLoadLimit) struct LateEntrySweepOfEndedSessionTests {
    @Test(arguments: RecipeBackend.all)
    func aSweepStartedForAReplacedSessionEndsAtOnce(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/sweep-ended-session")
        let base = try await handles.open()
        let listeners = SessionListenersStore(base)
        let lease = try #require(
            try await Lock(store: CreatesLandingLate(listeners), path: path).acquire(timeout: .seconds(10)), "the lock is free")
        let old = base.session.sessionID
        try await backend.expire(base)
        let replaced = await base.waitForSession(within: .seconds(20)) {
            $0.sessionID != old && [.connected, .reconnected].contains($0.state)
        }
        try #require(replaced != nil, "the handle started its next session")

        let before = listeners.opened.current
        try await lease.release()
        try await withDeadline("the ended session's sweep to start and end") {
            for await opened in listeners.opened.subscribe() where opened > before { break }
            for await open in listeners.open.subscribe() where open == 0 { return }
        }
    }
}
