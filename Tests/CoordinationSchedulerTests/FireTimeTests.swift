@testable import CoordinationScheduler
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
