import Foundation
import Synchronization

/// A child process's exit as Foundation saw it: its status, and the instant it was seen, by the
/// process's termination handler (installed before launch, run on a thread of Foundation's).
///
/// A test that times a child's exit from its own task, or from a thread it starts once its task
/// resumes, adds however late that task resumed: on a busy run's two pool threads that was
/// seconds (a test process reacted 30 s late), and bounds such as "exits within 1.9 s of
/// stopping its command" failed for the test's lag, not coord's.
final class ExitRecord: Sendable {
    typealias Exit = (reason: Process.TerminationReason, status: Int32, at: ContinuousClock.Instant)

    private struct State {
        var exit: Exit?
        var waiters: [UUID: CheckedContinuation<Exit?, Never>] = [:]
    }
    private let state = Mutex(State())

    /// Records `process`'s exit once it happens; call before the process is launched.
    init(of process: Process) {
        process.terminationHandler = { [self] ended in
            let exit: Exit = (ended.terminationReason, ended.terminationStatus, ContinuousClock.now)
            let waiters = state.withLock { state in
                state.exit = exit
                defer { state.waiters = [:] }
                return Array(state.waiters.values)
            }
            for waiter in waiters { waiter.resume(returning: exit) }
        }
    }

    /// The exit, once it happened; `nil` while the process runs.
    var exit: Exit? { state.withLock { $0.exit } }

    /// Returns the exit once it has happened; throws `CancellationError` when the waiting task
    /// is cancelled first (a deadline), rather than wait on.
    func wait() async throws -> Exit {
        let id = UUID()
        let exit: Exit? = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let known: Exit?? = state.withLock { state in
                    if let exit = state.exit { return .some(exit) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let known { continuation.resume(returning: known) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: nil)
        }
        guard let exit else { throw CancellationError() }
        return exit
    }
}
