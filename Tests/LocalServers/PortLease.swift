import Coordination
import Foundation
import Synchronization

/// Ports of the test servers' ranges, claimed across processes. Every process that starts these
/// servers (each `swift test` of each checkout, `coord-chaos`) draws from the same ranges, and a
/// port found free can be bound by another process before our server binds it: our server then
/// exits, and the tests talk to the other process's server. A claim is an exclusive `flock` on a
/// file per port under ``directory``; the kernel drops it when its holder exits, crashed or not.
public final class PortLease: Sendable {
    /// The ports claimed, ascending.
    public let ports: [Int]
    /// One open lock file per port while the lease lasts; empty once released.
    private let descriptors: Mutex<[Int32]>

    /// Where the lock files live (shared by every process on the machine).
    public static let directory = "/tmp/coordination-test-ports"

    private init(ports: [Int], descriptors: [Int32]) {
        self.ports = ports
        self.descriptors = Mutex(descriptors)
    }

    deinit { release() }

    /// Claims every port of `ports` at once, or none: `nil` when a holder (another process, or
    /// another lease of this one) has one of them.
    public static func tryClaim(_ ports: some Sequence<Int>) -> PortLease? {
        let ports = Array(Set(ports)).sorted()
        var held: [Int32] = []
        for port in ports {
            guard let fd = openLockFile(port) else { break }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                break
            }
            held.append(fd)
        }
        guard held.count == ports.count else {
            for fd in held { close(fd) }
            return nil
        }
        return PortLease(ports: ports, descriptors: held)
    }

    /// Claims every port of `ports`, waiting while another holder has one (the same test of
    /// another checkout running now on the same fixed ports), for at most `timeout`.
    /// - Throws: `unavailable` naming the ports when the wait ran out.
    public static func claim(_ ports: some Sequence<Int>, within timeout: Duration) async throws -> PortLease {
        let ports = Array(Set(ports)).sorted()
        // A blocking flock is the only event another process's release gives; it cannot be given
        // up on, so the thread waiting in it hands the lease over only if it is still wanted.
        let handOver = HandOver()
        let waiter = Thread {
            var held: [Int32] = []
            // Ascending order, as every claimant: two processes never hold one port each of the other's.
            for port in ports {
                guard let fd = openLockFile(port) else { break }
                while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
                held.append(fd)
            }
            if held.count == ports.count {
                handOver.finish(PortLease(ports: ports, descriptors: held))
            } else {
                for fd in held { close(fd) }
                handOver.finish(nil)
            }
        }
        waiter.name = "port-lease-\(ports.first ?? 0)"
        waiter.start()
        let lease: PortLease? = await withTaskGroup(of: PortLease?.self) { group in
            group.addTask { await handOver.wait() }
            group.addTask {
                try? await Task.sleep(for: timeout)  // the wait's deadline, not a stand-in for an event
                handOver.giveUp()
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let lease else {
            throw CoordinationError(
                .unavailable, "ports \(ports) stayed claimed by another process for \(timeout) (see the lock files under \(directory))")
        }
        return lease
    }

    /// Gives the ports back (closing the lock files drops the claims); later calls do nothing.
    public func release() {
        let held = descriptors.withLock { descriptors in
            defer { descriptors = [] }
            return descriptors
        }
        for fd in held { close(fd) }
    }

    /// Where a waiting claim's lease goes: to the caller still waiting for it, or dropped (and so
    /// released) once the caller gave up.
    private final class HandOver: Sendable {
        private enum State {
            case pending(CheckedContinuation<PortLease?, Never>?)
            case finished(PortLease?)
            case givenUp
        }
        private let state = Mutex(State.pending(nil))

        func finish(_ lease: PortLease?) {
            let waiter: CheckedContinuation<PortLease?, Never>?? = state.withLock { state in
                guard case .pending(let waiter) = state else { return nil }
                state = .finished(lease)
                return .some(waiter)
            }
            // `nil`: given up meanwhile; the lease is dropped here, which releases it.
            if let waiter { waiter?.resume(returning: lease) }
        }

        func giveUp() {
            let waiter: CheckedContinuation<PortLease?, Never>? = state.withLock { state in
                guard case .pending(let waiter) = state else { return nil }
                state = .givenUp
                return waiter
            }
            waiter?.resume(returning: nil)
        }

        func wait() async -> PortLease? {
            await withCheckedContinuation { continuation in
                let outcome: PortLease?? = state.withLock { state in
                    switch state {
                    case .finished(let lease): return .some(lease)
                    case .givenUp: return .some(nil)
                    case .pending:
                        state = .pending(continuation)
                        return nil
                    }
                }
                if let outcome { continuation.resume(returning: outcome) }
            }
        }
    }

    private static func openLockFile(_ port: Int) -> Int32? {
        _ = createDirectory
        let fd = open("\(directory)/\(port).lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o666)
        return fd >= 0 ? fd : nil
    }

    private static let createDirectory: Void = {
        mkdir(directory, 0o777)
        // Other users' processes (a CI runner's) claim ports too: no umask may narrow the folder.
        chmod(directory, 0o1777)
    }()
}
