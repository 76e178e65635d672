import CZooKeeper
import Coordination
import Foundation
import Synchronization

extension ZooKeeperStore {
    /// Ends this handle's session from the server's side, the way an expiry does: a second
    /// connection takes over the session with its id and password and closes it (as kazoo's and
    /// Curator's test kits do). The store learns of it when it next reaches the server: it then
    /// reports `expired` and starts a new session by itself. For tests and failure drills.
    ///
    /// While this handle stays connected it may reconnect and win its session back before the
    /// close reaches the server; a drill that must not lose that race cuts the handle's network
    /// first (a relay in front of the server) and passes the real servers as `hosts`.
    /// - Parameter hosts: where the second connection goes; by default this store's hosts.
    /// - Returns: `true` when the server already considered the session expired.
    /// - Throws: `unavailable` when the takeover cannot connect within `timeout`; `closed`.
    @discardableResult
    public func closeSessionFromAnotherHandle(hosts: [String]? = nil, timeout: Duration = .seconds(10)) async throws -> Bool {
        // zoo_set_servers is deliberately not used to keep this handle away: in the 3.8 C client it
        // frees the host list under the I/O thread's feet (ZOOKEEPER-4699) and crashes the process.
        guard let client = connection.sessionCredentials() else { throw CoordinationError.closed() }
        return try await takeOverAndClose(client, hosts: hosts?.joined(separator: ",") ?? configuration.connectString, timeout: timeout)
    }

    /// Connects a second handle with `client`'s session id and password, then closes it.
    /// - Returns: `true` when the server already considered the session expired.
    private func takeOverAndClose(_ client: clientid_t, hosts: String, timeout: Duration) async throws -> Bool {
        let takeover = SessionTakeover()
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
                let handle = zookeeper_init(ClientConnectString.from(hosts), takeoverWatcher, milliseconds, &session, context.toOpaque(), 0)
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

/// The second connection of ``ZooKeeperStore/closeSessionFromAnotherHandle(hosts:timeout:)``.
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
