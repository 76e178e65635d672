import Coordination
import CoordinationTestSupport
import Synchronization

/// Wraps a store whose server keeps the session, and cuts it off once, as the first transaction
/// that `matches` selects is sent: that transaction fails (`connectionLoss`, nothing applied), and
/// the handle reports its session suspended since more than a TTL ago, past its safe window. It
/// is: a server ends a session somewhat after that window (ZooKeeper on its next tick, etcd a
/// keep-alive's trip later), and contact comes back within that while the session lives. Here
/// contact comes back as soon as someone waits for it (subscribes to the session's events): they
/// see the suspension, then `reconnected` in the same session, whose ephemeral keys all live.
final class CutOffPastSafeWindowStore: ForwardingStore {
    private enum Phase {
        case connected
        case cutOff(SessionEvent)
        case back
    }

    let base: any CoordinationStore
    private let matches: @Sendable ([Operation]) -> Bool
    private let phase = Mutex(Phase.connected)

    init(_ base: any CoordinationStore, when matches: @escaping @Sendable ([Operation]) -> Bool) {
        self.base = base
        self.matches = matches
    }

    /// Whether the cut-off happened and contact came back.
    var cameBack: Bool { phase.withLock { if case .back = $0 { true } else { false } } }

    var session: SessionEvent {
        phase.withLock { if case .cutOff(let suspended) = $0 { suspended } else { nil } } ?? base.session
    }

    func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
        let cut = phase.withLock { phase in
            switch phase {
            case .back: return false
            case .cutOff: return true
            case .connected:
                guard matches(operations) else { return false }
                var suspended = base.session
                suspended.state = .suspended
                suspended.lastContact = .now.advanced(by: .zero - suspended.ttl * 2)
                phase = .cutOff(suspended)
                return true
            }
        }
        guard cut else { return try await base.transaction(operations) }
        throw CoordinationError(.connectionLoss, "contact lost (simulated)")
    }

    func sessionEvents() -> AsyncStream<SessionEvent> {
        let suspended = phase.withLock { phase -> SessionEvent? in
            guard case .cutOff(let suspended) = phase else { return nil }
            phase = .back
            return suspended
        }
        guard let suspended else { return base.sessionEvents() }
        let base = base
        return AsyncStream { continuation in
            continuation.yield(suspended)
            var reconnected = suspended
            reconnected.state = .reconnected
            reconnected.lastContact = .now
            continuation.yield(reconnected)
            let forward = Task {
                for await event in base.sessionEvents() { continuation.yield(event) }
                continuation.finish()
            }
            continuation.onTermination = { _ in forward.cancel() }
        }
    }
}
