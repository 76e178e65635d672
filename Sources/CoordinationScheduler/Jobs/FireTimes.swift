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
            let periods = ((date.timeIntervalSince(origin)) / step).rounded(.down) + 1
            var candidate = origin.addingTimeInterval(periods * step)
            // Floating-point care: the result must be strictly after `date`.
            if candidate <= date { candidate = candidate.addingTimeInterval(step) }
            return candidate
        }
    }

    /// Every fire time in `(after, upTo]`, at most `limit` of them (the latest ones are kept when
    /// there are more: only the latest matters to a misfire policy), and how many there were in all.
    func fireTimes(after: Date, upTo: Date, anchor: Date, limit: Int = 1000) -> (times: [Date], total: Int) {
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
        while let next = nextFireTime(after: cursor, anchor: anchor), next <= upTo {
            total += 1
            times.append(next)
            if times.count > limit { times.removeFirst() }
            cursor = next
            if total > 10_000_000 { break }
        }
        return (times, total)
    }
}
