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

    init(fence: Int64) { fenceVersion = Mutex(fence) }

    var fence: Int64 { fenceVersion.withLock { $0 } }

    /// Moves the fence to `version`, the run record's version after a write this attempt owns.
    func advance(to version: Int64) {
        fenceVersion.withLock { $0 = max($0, version) }
    }

    func stop(_ reason: StopReason) {
        stops.update { current in if current == nil { current = reason } }
    }
}
