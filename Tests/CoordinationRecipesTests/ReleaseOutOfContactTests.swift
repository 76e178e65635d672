import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Synchronization
import Testing

/// `LockLease.release()` out of contact for longer than its session can last: once its retries
/// tell the session may be gone it leaves the removal to the session's return and returns. It
/// used to start the whole retrying over first, one more request to a server that does not
/// answer (waiting out its request time-out) before returning.
@Suite(.serverLoadLimit) struct ReleaseOutOfContactTests {
    @Test(arguments: RecipeBackend.all)
    func aReleaseOutOfContactTriesOnceThenRemovesOnceBackInTheSession(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/release-out-of-contact")
        let observer = try await handles.open()
        let store = CutOffStore(try await handles.open())

        let lease = try #require(try await Lock(store: store, path: path).acquire(timeout: .zero), "the lock is free")
        store.cutOff()
        try await withDeadline("the release to return", limit: .seconds(10)) { try await lease.release() }
        #expect(store.failedDeletes == 1, "one attempt, the session then known to be past its life")
        #expect(try await observer.children(of: path) == [lease.key.name], "the entry is still there, out of reach")

        store.reconnect()
        try await waitForEntries(observer, path, "the entry to be removed once back in the session") { $0.isEmpty }
    }
}

/// Wraps a store that, once ``cutOff()``, reads its session as suspended for longer than it can
/// last and fails every delete with `connectionLoss`, and whose session streams say nothing more
/// until ``reconnect()``, which reports contact back in the same session (the server kept it).
final class CutOffStore: ForwardingStore {
    let base: any CoordinationStore
    private struct State {
        var cut = false
        var failedDeletes = 0
        var streams: [AsyncStream<SessionEvent>.Continuation] = []
    }
    private let state = Mutex(State())

    init(_ base: any CoordinationStore) { self.base = base }

    var failedDeletes: Int { state.withLock { $0.failedDeletes } }

    func cutOff() { state.withLock { $0.cut = true } }

    func reconnect() {
        let now = base.session
        let back = SessionEvent(state: .reconnected, sessionID: now.sessionID, ttl: now.ttl, lastContact: .now)
        for stream in state.withLock({ state in
            state.cut = false
            return state.streams
        }) { stream.yield(back) }
    }

    var session: SessionEvent { session(cut: state.withLock { $0.cut }) }

    private func session(cut: Bool) -> SessionEvent {
        let now = base.session
        guard cut else { return now }
        return SessionEvent(state: .suspended, sessionID: now.sessionID, ttl: now.ttl, lastContact: .now - .seconds(3600))
    }

    func sessionEvents() -> AsyncStream<SessionEvent> {
        let (stream, continuation) = AsyncStream<SessionEvent>.makeStream()
        // The first event and the registration in one step, as `Broadcast` does: a `reconnect()`
        // between them left a stream that said suspended and nothing more (a CI run's release
        // then waited for contact that had come back).
        state.withLock { state in
            continuation.yield(session(cut: state.cut))
            state.streams.append(continuation)
        }
        return stream
    }

    func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
        let cut = state.withLock { state in
            if state.cut { state.failedDeletes += 1 }
            return state.cut
        }
        if cut { throw CoordinationError(.connectionLoss, "cut off (simulated)", key: key) }
        try await base.delete(key, ifVersion: ifVersion, recursive: recursive)
    }
}
