public import Foundation
import Synchronization

/// A wall clock that moves only when told to: sleepers wake when ``advance(by:)`` or ``set(_:)``
/// passes their date. For deterministic tests of cron, fixed-rate and misfire behaviour, and of
/// the clock stepping back (``stepBack(by:)``).
public final class ManualWallClock: Sendable {
    private struct Sleeper {
        var date: Date
        var continuation: CheckedContinuation<Void, any Error>
        /// Woken by a step back too (``WallClock/sleepUntilOrStepBack``).
        var wakesOnStepBack: Bool
    }
    private struct State {
        var now: Date
        var sleepers: [Int: Sleeper] = [:]
        /// Tests waiting for someone to sleep until a date.
        var watchers: [Int: (Date, CheckedContinuation<Void, Never>)] = [:]
        var nextID = 0
    }
    private let state: Mutex<State>

    public init(_ start: Date) {
        state = Mutex(State(now: start))
    }

    public var now: Date { state.withLock { $0.now } }

    /// This clock as the scheduler takes it.
    public var wallClock: WallClock {
        WallClock(
            now: { [self] in now }, sleepUntil: { [self] date in try await sleep(until: date, wakingOnStepBack: false) },
            sleepUntilOrStepBack: { [self] date in try await sleep(until: date, wakingOnStepBack: true) })
    }

    public func advance(by seconds: TimeInterval) { set(now.addingTimeInterval(seconds)) }

    public func set(_ date: Date) {
        let due: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            state.now = max(state.now, date)
            let ids = state.sleepers.filter { $0.value.date <= state.now }.map(\.key)
            return ids.compactMap { state.sleepers.removeValue(forKey: $0)?.continuation }
        }
        for continuation in due { continuation.resume() }
    }

    /// Steps the clock back (an NTP correction, an operator), which ``set(_:)`` never does.
    /// Sleepers go on sleeping until the clock reaches their date again, as on a real clock, but
    /// for those that asked to be woken by a step back.
    public func stepBack(by seconds: TimeInterval) {
        let woken: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            state.now = state.now.addingTimeInterval(-abs(seconds))
            let ids = state.sleepers.filter { $0.value.wakesOnStepBack }.map(\.key)
            return ids.compactMap { state.sleepers.removeValue(forKey: $0)?.continuation }
        }
        for continuation in woken { continuation.resume() }
    }

    func sleep(until date: Date, wakingOnStepBack: Bool) async throws {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (resumeNow, watchers) = state.withLock { state in
                    if date <= state.now || Task.isCancelled { return (true, [CheckedContinuation<Void, Never>]()) }
                    state.sleepers[id] = Sleeper(date: date, continuation: continuation, wakesOnStepBack: wakingOnStepBack)
                    let ids = state.watchers.filter { $0.value.0 == date }.map(\.key)
                    return (false, ids.compactMap { state.watchers.removeValue(forKey: $0)?.1 })
                }
                if resumeNow { continuation.resume() }
                for watcher in watchers { watcher.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }

    /// The dates something sleeps until now, earliest first: the wake-ups the code under test has
    /// scheduled, for a test's failure report.
    public var sleepers: [Date] { state.withLock { $0.sleepers.values.map(\.date).sorted() } }

    /// Returns once something sleeps until exactly `date` (at once if something does already):
    /// a test's sign that the code under test has scheduled its next wake-up, where no other
    /// event shows it. Returns early when cancelled.
    public func waitForSleeper(until date: Date) async {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if Task.isCancelled || state.sleepers.values.contains(where: { $0.date == date }) { return true }
                    state.watchers[id] = (date, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.watchers.removeValue(forKey: id) }?.1.resume()
        }
    }
}
