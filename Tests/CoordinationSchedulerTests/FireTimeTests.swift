@testable import CoordinationScheduler
import Coordination
import Foundation
import Testing

@Suite struct FireTimeTests {
    let origin = Date(timeIntervalSince1970: 1_000)

    @Test func fixedRateCountsFromItsStart() {
        let schedule = JobSchedule.every(.milliseconds(1500), start: nil)
        #expect(schedule.nextFireTime(after: origin, anchor: origin) == origin.addingTimeInterval(1.5))
        #expect(schedule.nextFireTime(after: origin.addingTimeInterval(1.5), anchor: origin) == origin.addingTimeInterval(3))
        #expect(schedule.nextFireTime(after: origin.addingTimeInterval(-10), anchor: origin) == origin)
        let (times, total) = schedule.fireTimes(after: origin, upTo: origin.addingTimeInterval(7), anchor: origin, limit: 2)
        #expect(total == 4, "1.5, 3, 4.5 and 6")
        #expect(times == [origin.addingTimeInterval(4.5), origin.addingTimeInterval(6)], "the latest ones are kept")
    }

    @Test func aLongOutageOfAFastJobIsCountedNotWalked() {
        let schedule = JobSchedule.every(.milliseconds(10), start: origin)
        let (times, total) = schedule.fireTimes(after: origin, upTo: origin.addingTimeInterval(30 * 86_400), anchor: origin, limit: 1)
        #expect(total == 259_200_000)
        #expect(times == [origin.addingTimeInterval(30 * 86_400)])
    }

    @Test func cronFireTimesBetweenTwoDates() throws {
        let schedule = JobSchedule.cron(try CronExpression("*/2 * * * * *"))
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let (times, total) = schedule.fireTimes(after: start, upTo: start.addingTimeInterval(7), anchor: start, limit: 10)
        #expect(total == 3)
        #expect(times == [2, 4, 6].map { start.addingTimeInterval($0) })
        #expect(JobSchedule.once(at: nil).fireTimes(after: start, upTo: start.addingTimeInterval(99), anchor: start).total == 0)
    }

    /// More cron fire times than the walk counts (some four months of a job firing every second,
    /// by default): the latest is still the one found. The walk stopped at its limit, and the
    /// fire time it had reached passed for the latest: the misfire policy ran a months-old fire
    /// time, and applied once more at each leader pass until it had caught up.
    static let beyondTheCountingLimit: [(expression: String, span: TimeInterval, countLimit: Int)] = [
        ("* * * * * *", 1000, 100),
        ("0 0 * * * *", 1000 * 3600, 10),  // hourly, over 1000 hours
        ("0 0 0 1 1 *", 3650 * 86_400, 3),  // yearly, over ten years: the window search spans years
        ("* * 0 * * *", 3 * 86_400 + 12 * 3600, 100),  // every second of the hour after midnight, found from noon
    ]

    @Test(arguments: beyondTheCountingLimit)
    func aCatchUpBeyondTheCountingLimitStillFindsTheLatestFireTime(
        expression: String, span: TimeInterval, countLimit: Int
    ) throws {
        let schedule = JobSchedule.cron(try CronExpression(expression))
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let upTo = start.addingTimeInterval(span)
        let walked = schedule.fireTimes(after: start, upTo: upTo, anchor: start, limit: 1, countLimit: .max)
        let (times, total) = schedule.fireTimes(after: start, upTo: upTo, anchor: start, limit: 1, countLimit: countLimit)
        #expect(walked.total > countLimit, "the case is beyond the limit")
        #expect(times == walked.times, "the latest fire time")
        #expect(total > countLimit && total <= walked.total, "a lower bound")
    }
}

/// A fire time stored as the job's `lastMaterialized` comes back through the scheduler's JSON
/// (milliseconds as a floating-point number) a hair off, and an `every` job anchored at a
/// submission time with a fraction of a millisecond has such fire times: read back a hair
/// early, the same fire time was due again. The leader then recorded a `skip` job's fire time as
/// skipped at every pass while the run lasted (26 entries for one fire time on etcd), and tried
/// a run's fire time again and again, its run id already taken.
@Suite struct StoredFireTimeTests {
    struct Stored: Codable { var at: Date }

    @Test func aFireTimeReadBackIsNotDueAgain() throws {
        let schedule = JobSchedule.every(.milliseconds(300), start: nil)
        var repeated: [String] = []
        for offset in 0..<2000 {
            // Submission times a fraction of a millisecond apart, as Date() gives them.
            let anchor = Date(timeIntervalSince1970: 1_796_545_918.8634567 + Double(offset) * 0.000_123_4)
            var fired = anchor
            for _ in 0..<5 {
                let next = try #require(schedule.nextFireTime(after: fired, anchor: anchor))
                let stored = try SchedulerJSON.decode(Stored.self, from: try SchedulerJSON.encode(Stored(at: next)), key: Key("/t")).at
                let readBack = JobState(lastMaterialized: stored, submittedAt: anchor).fireTimesDue(after: schedule)
                let again = try #require(schedule.nextFireTime(after: readBack, anchor: anchor))
                if again.timeIntervalSince(next) < 0.15 { repeated.append("\(anchor.timeIntervalSince1970) \(next.timeIntervalSince1970)") }
                let (due, _) = schedule.fireTimes(after: readBack, upTo: next.addingTimeInterval(0.1), anchor: anchor)
                if !due.isEmpty { repeated.append("due \(next.timeIntervalSince1970)") }
                fired = stored
            }
        }
        #expect(repeated.count == 0, "fire times due again once stored, e.g. \(repeated.prefix(3))")
    }
}
