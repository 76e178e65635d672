import Coordination
import Synchronization

/// Shared between a run's execution and the worker's main loop: the attempt's fence (the run
/// record's version it last wrote) and the request to stop it.
final class RunControl: Sendable {
    enum StopReason: Sendable, Hashable {
        /// The job was cancelled, replaced or removed.
        case cancelRequested
        /// The worker is shutting down and its grace period is over: hand the run back.
        case shutdown
    }

    let stops = Broadcast<StopReason?>(nil)
    private let fenceVersion: Mutex<Int64>
    private let passedCancel = Mutex<String?>(nil)

    init(fence: Int64) { fenceVersion = Mutex(fence) }

    var fence: Int64 { fenceVersion.withLock { $0 } }

    /// Moves the fence to `version`, the run record's version after a write this attempt owns.
    func advance(to version: Int64) {
        fenceVersion.withLock { $0 = max($0, version) }
    }

    /// The reason of a cancel request on a record the fence was moved to by reading it back
    /// (``RunExecution/adoptLaterVersion(claim:control:)``); `nil` if none.
    ///
    /// A fence moved past a request no longer refuses the write that ends the attempt, which is
    /// how a cancel that came late is otherwise noticed: the end must know of it all the same,
    /// or its retry or hand-back overwrites the request and the cancelled run runs again.
    var cancelPassed: String? { passedCancel.withLock { $0 } }

    func notePassedCancel(reason: String) {
        passedCancel.withLock { if $0 == nil { $0 = reason } }
    }

    func stop(_ reason: StopReason) {
        stops.update { current in if current == nil { current = reason } }
    }
}
