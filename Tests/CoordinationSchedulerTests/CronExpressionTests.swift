import Coordination
import Foundation
import Testing

@testable import CoordinationScheduler

@Suite struct CronExpressionTests {
    /// Parses `2026-11-22T10:00:00Z`-style UTC timestamps.
    func at(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test(arguments: [
        ("* * * * * *", "2026-11-22T10:00:00Z", "2026-11-22T10:00:01Z"),
        ("*/15 * * * * *", "2026-11-22T10:00:14Z", "2026-11-22T10:00:15Z"),
        ("0 */5 * * * *", "2026-11-22T10:03:00Z", "2026-11-22T10:05:00Z"),
        ("30 9 * * 1-5", "2026-11-21T12:00:00Z", "2026-11-23T09:30:00Z"),  // Saturday → Monday, 5 fields
        ("0 0 0 29 FEB *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        ("0 0 12 1 JAN,JUL ?", "2026-07-01T12:00:00Z", "2027-01-01T12:00:00Z"),
        ("0 0 0 13 * FRI", "2026-11-22T00:00:00Z", "2026-11-27T00:00:00Z"),  // day 13 OR Friday
        ("0 0 0 * * 7", "2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"),  // 7 is Sunday too
        // A stepped wildcard leaves its day field unrestricted, as in Vixie cron: both must match.
        ("0 0 0 */2 * MON", "2026-11-23T00:00:00Z", "2026-12-07T00:00:00Z"),  // odd day AND Monday (not Wed 25th)
        ("0 0 0 13 * */2", "2026-11-22T00:00:00Z", "2026-12-13T00:00:00Z"),  // 13th AND Sun/Tue/Thu/Sat (not Tue 24th)
        ("5-10/2 * * * * *", "2026-11-22T10:00:06Z", "2026-11-22T10:00:07Z"),
        ("@hourly", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z"),
        ("@daily", "2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z"),
        ("0 59 23 31 12 *", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"),
        // The last second of a day, of a year, of a leap day; 2100 is no leap year.
        ("59 59 23 * * *", "2026-12-31T23:59:59Z", "2027-01-01T23:59:59Z"),
        ("59 59 23 28-29 2 *", "2028-02-28T23:59:59Z", "2028-02-29T23:59:59Z"),
        ("59 59 23 28-29 2 *", "2027-02-28T23:59:59Z", "2028-02-28T23:59:59Z"),
        ("0 0 0 29 2 *", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"),
        ("0 0 0 31 * *", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"),  // no 31st in February
    ])
    func nextFireTime(expression: String, after: String, expected: String) throws {
        let cron = try CronExpression(expression)
        #expect(cron.next(after: at(after)) == at(expected))
    }

    @Test func nextIsStrictlyAfterEvenWithinASecond() throws {
        let cron = try CronExpression("* * * * * *")
        let base = at("2026-11-22T10:00:00Z")
        #expect(cron.next(after: base.addingTimeInterval(0.5)) == base.addingTimeInterval(1))
    }

    @Test func impossibleScheduleHasNoNextTime() throws {
        #expect(try CronExpression("0 0 0 30 FEB *").next(after: at("2026-01-01T00:00:00Z")) == nil)
    }

    @Test(arguments: [
        ("* * * *", "has 4 fields"),
        ("0 0 0 * * * 2026", "has 7 fields (a year field is not taken); write 6"),
        ("x", "has 1 field; write 6"),
        ("@every 5m", "uses @every, which is not a macro coord knows; the macros are @yearly (or @annually), @monthly, @weekly, @daily (or @midnight), @hourly; a fixed interval is an every schedule"),
        ("@reboot", "uses @reboot, which is not a macro coord knows"),
        ("0 0 12 ? * 6#3", "field 'day-of-week' has '6#3': Quartz's L (last), W (nearest weekday) and # (nth weekday) are not taken"),
        ("0 0 12 L * ?", "field 'day-of-month' has 'L': Quartz's L"),
        ("0 0 12 15W * ?", "field 'day-of-month' has '15W': Quartz's L"),
        ("0 0 12 ? * WEDS", "field 'day-of-week' has 'WEDS', which is not a number or a name like SUN"),
        ("*/0 * * * * *", "step '0'"),
        ("61 * * * * *", "outside 0-59"),
        ("0 0 25 * * *", "field 'hour' has 25"),
        ("0 0 0 5-1 * *", "running backwards"),
        ("0 0 0 * FOO *", "field 'month' has 'FOO'"),
        ("? * * * * *", "cannot be '?'"),
        ("1,,2 * * * * *", "empty list item"),
    ])
    func rejectsWithAMessageNamingTheProblem(expression: String, reason: String) {
        do {
            _ = try CronExpression(expression)
            Issue.record("\(expression) was accepted")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(reason), "\(error.message)")
            #expect(error.message.contains("'\(expression)'"))
        }
    }

    @Test func civilDatesRoundTrip() {
        for day in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            #expect(CivilDate(daysSinceEpoch: day).daysSinceEpoch == day)
        }
        #expect(CivilDate(daysSinceEpoch: 0) == CivilDate(year: 1970, month: 1, day: 1))
        #expect(CivilDate(year: 2000, month: 2, day: 29).daysSinceEpoch == 11_016)
    }

    @Test func codableAsText() throws {
        let data = try JSONEncoder().encode(try CronExpression("0 * * * * *"))
        #expect(String(decoding: data, as: UTF8.self) == "\"0 * * * * *\"")
        #expect(throws: (any Error).self) { try JSONDecoder().decode(CronExpression.self, from: Data("\"nope\"".utf8)) }
    }
}
