import Synchronization

/// When an attempt's handler was started, if it was: an attempt stopped before its start (see
/// ``RunExecution/perform(_:control:onStart:)``) counts in no handler metric.
final class HandlerStart: Sendable {
    private let started = Mutex<ContinuousClock.Instant?>(nil)

    func note(_ instant: ContinuousClock.Instant) { started.withLock { $0 = instant } }

    var instant: ContinuousClock.Instant? { started.withLock { $0 } }
}
