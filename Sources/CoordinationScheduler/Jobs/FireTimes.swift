public import Foundation

extension JobSchedule {
    /// The first fire time strictly after `date`, or `nil` when there is none (a one-shot job, or a
    /// cron expression that never fires again). `anchor` is where a fixed rate without a start counts from.
    public func nextFireTime(after date: Date, anchor: Date) -> Date? {
        switch self {
        case .once:
            return nil
        case .cron(let expression):
            return expression.next(after: date)
        case .every(let interval, let start):
            let origin = start ?? anchor
            let step = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
            guard step > 0 else { return nil }
            if date < origin { return origin }
            var periods = ((date.timeIntervalSince(origin)) / step).rounded(.down) + 1
            // Floating-point care: the result must be strictly after `date`, and the very value
            // fireTimes(after:upTo:anchor:) gives (origin + k × step, never a sum of steps: one
            // ULP past it, a leader woken at that time found nothing due, and slept on).
            if origin.addingTimeInterval(periods * step) <= date { periods += 1 }
            return origin.addingTimeInterval(periods * step)
        }
    }

    /// A fire time read back from the store, as this schedule computes it. The scheduler's JSON
    /// keeps dates as floating-point milliseconds, so an `every` job's fire times (counted from
    /// a submission time with a fraction of a millisecond) come back a hair off: read back a hair
    /// early as the job's `lastMaterialized`, the same fire time was due again, and the leader
    /// recorded a `skip` job's fire time as skipped at each of its passes while the run lasted.
    /// A time within ``readBackSlack`` of one of the schedule's fire times is that fire time.
    func fireTime(readBack stored: Date, anchor: Date) -> Date {
        guard case .every(let interval, let start) = self else { return stored }  // cron times are whole seconds: exact
        let origin = start ?? anchor
        let step = interval.seconds
        guard step > 0, stored >= origin.addingTimeInterval(-Self.readBackSlack) else { return stored }
        // The same product nextFireTime(after:anchor:) and fireTimes(after:upTo:anchor:) compute.
        let fireTime = origin.addingTimeInterval((stored.timeIntervalSince(origin) / step).rounded() * step)
        return abs(fireTime.timeIntervalSince(stored)) < Self.readBackSlack ? fireTime : stored
    }

    /// How far a date read back may be from the one stored: some ULPs of a date in milliseconds
    /// (under a microsecond), with room to spare, and far below the shortest interval.
    static let readBackSlack: TimeInterval = 0.000_01

    /// Every fire time in `(after, upTo]`, at most `limit` of them (the latest ones are kept when
    /// there are more: only the latest matters to a misfire policy), and how many there were in all.
    ///
    /// A cron schedule's fire times are walked one by one, `countLimit` at most: beyond that
    /// (a job firing every second, after some four months without a leader) the walk jumps to
    /// the last fire times before `upTo`, which are still found, and `total` is a lower bound.
    func fireTimes(after: Date, upTo: Date, anchor: Date, limit: Int = 1000, countLimit: Int = 10_000_000) -> (
        times: [Date], total: Int
    ) {
        if case .every(let interval, let start) = self {
            // Arithmetic, so that a long outage of a fast job costs nothing to catch up on.
            let origin = start ?? anchor
            let step = interval.seconds
            guard step > 0, let first = nextFireTime(after: after, anchor: anchor), first <= upTo else { return ([], 0) }
            let firstIndex = (first.timeIntervalSince(origin) / step).rounded()
            let lastIndex = max(firstIndex, (upTo.timeIntervalSince(origin) / step).rounded(.down))
            let total = Int(lastIndex - firstIndex) + 1
            let kept = (0..<min(limit, total)).reversed().map { origin.addingTimeInterval((lastIndex - Double($0)) * step) }
            return (kept.filter { $0 <= upTo && $0 > after }, total)
        }
        var times: [Date] = []
        var total = 0
        var cursor = after
        var jumped = false
        while let next = nextFireTime(after: cursor, anchor: anchor), next <= upTo {
            if total == countLimit && !jumped {
                // Stopping here made the fire time reached so far pass for the latest: a misfire
                // policy ran a months-old one, and applied again at every pass until caught up.
                jumped = true
                let start = lastWindow(holdingFireTimesAfter: cursor, upTo: upTo, anchor: anchor)
                if start > cursor {
                    cursor = start
                    times = []
                    continue
                }
            }
            total += 1
            times.append(next)
            if times.count > limit { times.removeFirst() }
            cursor = next
        }
        return (times, total)
    }

    /// The start of the shortest window `(start, upTo]`, of a length doubling from a second, that
    /// holds a fire time; `after` when no such window starts after it. The window half as long
    /// held none, so the walk through this one is no longer than the quiet time before `upTo`.
    private func lastWindow(holdingFireTimesAfter after: Date, upTo: Date, anchor: Date) -> Date {
        var length: TimeInterval = 1
        while upTo.addingTimeInterval(-length) > after {
            let start = upTo.addingTimeInterval(-length)
            if let next = nextFireTime(after: start, anchor: anchor), next <= upTo { return start }
            length *= 2
        }
        return after
    }
}
