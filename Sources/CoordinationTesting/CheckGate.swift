import Foundation

/// Lets at most `width` bodies run at once across the whole process; the rest wait in order.
///
/// Test runners start every parameterised case at once. For the conformance suite that means
/// every check on every backend (hundreds of checks, each with up to six sessions, each session a
/// connection and, for ZooKeeper, two C threads) at the same moment: on a small machine the
/// servers and the process then starve, sessions expire under load and checks fail for reasons
/// that have nothing to do with the contract. A gate keeps the load bounded without making the
/// whole run serial.
public actor CheckGate {
    /// The gate every ``ConformanceSuite`` shares unless told otherwise: four checks per core.
    public static let shared = CheckGate(width: max(4, ProcessInfo.processInfo.activeProcessorCount * 4))

    public let width: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(width: Int) {
        precondition(width > 0, "a gate needs room for at least one body")
        self.width = width
    }

    /// Runs `body` once fewer than `width` others are running.
    public func run<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        await enter()
        defer { leave() }
        return try await body()
    }

    private func enter() async {
        if running < width {
            running += 1
            return
        }
        // The slot is handed over by `leave`, so `running` stays counted for us.
        await withCheckedContinuation { waiting.append($0) }
    }

    private func leave() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
