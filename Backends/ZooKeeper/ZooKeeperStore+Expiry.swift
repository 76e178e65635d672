import CZooKeeper
import Coordination
import Foundation
import Synchronization

extension ZooKeeperStore {
    /// Ends this handle's session from the server's side, exactly as an expiry would: a second
    /// connection takes over the session with its id and password and closes it (the way kazoo's
    /// and Curator's test kits do). Returns once this handle has reported `expired`; it then starts
    /// a new session by itself. For tests and failure drills.
    /// - Throws: `unavailable` when the takeover cannot connect or the expiry is not seen in time.
    public func expireSessionFromServer(timeout: Duration = .seconds(30)) async throws {
        guard let client = connection.sessionCredentials() else { throw CoordinationError.closed() }
        let original = session.sessionID
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            // While the takeover closes the session, this handle is pointed at a dead address:
            // otherwise it reconnects at once and may win its session back before the close
            // reaches the server (a race that loaded machines lose often).
            connection.setServers(Self.unreachableServer)
            let takeover: Result<Bool, any Error>
            do {
                takeover = .success(try await takeOverAndClose(client, timeout: min(timeout, .seconds(10))))
            } catch {
                takeover = .failure(error)
            }
            connection.setServers(configuration.connectString)
            _ = try takeover.get()
            // Back on the real servers, the handle learns at once that its session is gone.
            let wait = min(deadline - ContinuousClock.now, .seconds(10))
            if await waitForSessionEnd(of: original, within: max(wait, .zero)) { return }
        }
        throw CoordinationError(.unavailable, "the store did not report its session expired within \(DurationText.format(timeout))")
    }

    /// Nothing listens on port 1 of the loopback address: connecting there fails at once.
    private static let unreachableServer = "127.0.0.1:1"

    /// `true` once the session stream shows `original` expired (or replaced, or the handle closed).
    private func waitForSessionEnd(of original: String, within limit: Duration) async -> Bool {
        await waitForSession(within: limit) { $0.state == .expired || $0.state == .closed || $0.sessionID != original } != nil
    }

    /// Connects a second handle with `client`'s session id and password, then closes it.
    /// - Returns: `true` when the server already considered the session expired.
    private func takeOverAndClose(_ client: clientid_t, timeout: Duration) async throws -> Bool {
        let takeover = SessionTakeover()
        let hosts = configuration.connectString
        let milliseconds = Int32(clamping: configuration.sessionTimeout.components.seconds * 1000)
        let limit = Task {
            try? await Task.sleep(for: timeout)
            takeover.fire(-1)
        }
        let state: Int32 = await withCheckedContinuation { continuation in
            takeover.arm(continuation)
            Thread.detachNewThread {
                var session = client
                // Retained until the handle is closed: the C client calls back with it until then.
                let context = Unmanaged.passRetained(takeover)
                let handle = zookeeper_init(hosts, takeoverWatcher, milliseconds, &session, context.toOpaque(), 0)
                takeover.adopt(handle, context: context)
            }
        }
        limit.cancel()
        await takeover.close()
        if state == ZOO_EXPIRED_SESSION_STATE { return true }
        guard state == ZOO_CONNECTED_STATE else {
            throw CoordinationError(.unavailable, "could not take over ZooKeeper session \(session.sessionID) to end it")
        }
        return false
    }
}

/// The second connection of ``ZooKeeperStore/expireSessionFromServer(timeout:)``.
final class SessionTakeover: Sendable {
    private struct State: @unchecked Sendable {
        // Only touched under the lock.
        var continuation: CheckedContinuation<Int32, Never>?
        var fired = false
        var handle: (OpaquePointer, Unmanaged<SessionTakeover>)?
        var closeRequested = false
    }
    private let state = Mutex(State())

    func arm(_ continuation: CheckedContinuation<Int32, Never>) {
        state.withLock { $0.continuation = continuation }
    }

    /// Resumes the waiter once, with the first session state the takeover reached (or -1).
    func fire(_ sessionState: Int32) {
        let continuation: CheckedContinuation<Int32, Never>? = state.withLock { state in
            guard !state.fired else { return nil }
            state.fired = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: sessionState)
    }

    /// Takes the new handle (on the thread that made it); closes it there if ``close()`` came first.
    func adopt(_ handle: OpaquePointer?, context: Unmanaged<SessionTakeover>) {
        guard let handle else {
            context.release()
            fire(-1)
            return
        }
        let closeNow = state.withLock { state in
            if state.closeRequested { return true }
            state.handle = (handle, context)
            return false
        }
        if closeNow {
            zookeeper_close(handle)
            context.release()
        }
    }

    /// Closes the takeover handle on a thread of our own, which ends the session on the server.
    func close() async {
        let taken = state.withLock { state -> UncheckedPointer? in
            state.closeRequested = true
            defer { state.handle = nil }
            return state.handle.map { UncheckedPointer(pointer: $0.0, context: $0.1) }
        }
        guard let taken else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                zookeeper_close(taken.pointer)
                taken.context.release()
                continuation.resume()
            }
        }
    }
}

struct UncheckedPointer: @unchecked Sendable {
    let pointer: OpaquePointer
    let context: Unmanaged<SessionTakeover>
}

private func takeoverWatcher(
    _ zh: OpaquePointer?, _ type: Int32, _ state: Int32, _ path: UnsafePointer<CChar>?, _ context: UnsafeMutableRawPointer?
) {
    guard type == ZOO_SESSION_EVENT, let context, state != ZOO_CONNECTING_STATE, state != ZOO_ASSOCIATING_STATE else { return }
    Unmanaged<SessionTakeover>.fromOpaque(context).takeUnretainedValue().fire(state)
}
