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
        // CRON_TZ= makes the fields a zone's wall-clock times. Paris: UTC+1 in winter, UTC+2 in
        // summer; in 2026 clocks go forward at 02:00 on 29 March (01:00Z) and back at 03:00 on
        // 25 October (01:00Z).
        ("CRON_TZ=Europe/Paris 0 0 3 * * *", "2026-01-10T12:00:00Z", "2026-01-11T02:00:00Z"),  // winter
        ("CRON_TZ=Europe/Paris 0 0 3 * * *", "2026-07-10T12:00:00Z", "2026-07-11T01:00:00Z"),  // summer
        ("TZ=Europe/Paris 0 3 * * *", "2026-07-10T12:00:00Z", "2026-07-11T01:00:00Z"),  // TZ=, 5 fields
        ("CRON_TZ=Asia/Kolkata @daily", "2026-11-22T00:00:00Z", "2026-11-22T18:30:00Z"),  // a half-hour zone, a macro
        ("CRON_TZ=UTC 0 0 3 * * *", "2026-11-22T00:00:00Z", "2026-11-22T03:00:00Z"),
        // 02:30 does not exist on 29 March: it fires as the clocks jump, then at 02:30 again.
        ("CRON_TZ=Europe/Paris 0 30 2 * * *", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"),
        ("CRON_TZ=Europe/Paris 0 30 2 * * *", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"),
        // Every 30 minutes: 02:00 and 02:30 are skipped, both fire as the clocks jump, with 03:00.
        ("CRON_TZ=Europe/Paris 0 */30 * * * *", "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z"),
        ("CRON_TZ=Europe/Paris 0 */30 * * * *", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"),
        // 02:30 comes twice on 25 October (00:30Z and 01:30Z): it fires at its first coming only.
        ("CRON_TZ=Europe/Paris 0 30 2 * * *", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"),
        ("CRON_TZ=Europe/Paris 0 30 2 * * *", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"),
        // Every 30 minutes: the hour that comes again has fired already; next is 03:00 (02:00Z),
        // from the first coming of 02:30 and from inside the second coming alike.
        ("CRON_TZ=Europe/Paris 0 */30 * * * *", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z"),
        ("CRON_TZ=Europe/Paris 0 */30 * * * *", "2026-10-25T01:15:00Z", "2026-10-25T02:00:00Z"),
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
        ("CRON_TZ=Europe/Pariss 0 0 3 * * *", "names the time zone 'Europe/Pariss', which is not a time zone coord knows"),
        ("CRON_TZ=europe/paris 0 0 3 * * *", "write an IANA name such as Europe/Paris, America/New_York or UTC (case matters)"),
        ("CRON_TZ= 0 0 3 * * *", "names the time zone ''"),
        ("CRON_TZ=UTC", "has 0 fields"),
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

    /// A year of hourly fire times in New York: one fewer than the year's 8,760 hours, since 02:00
    /// on the day clocks go forward fires with 03:00, and the hour that comes twice fires once.
    @Test func anHourlyJobFiresOnceForEachWallClockHourOfAYear() throws {
        let cron = try CronExpression("CRON_TZ=America/New_York 0 0 * * * *")
        let zone = try #require(TimeZone(identifier: "America/New_York"))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        var fire = try #require(cron.next(after: at("2026-01-01T04:59:59Z")))  // 23:59:59 on 31 December
        #expect(fire == at("2026-01-01T05:00:00Z"))
        var count = 0
        var hours = Set<String>()
        while fire < at("2027-01-01T05:00:00Z") {
            count += 1
            let local = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: fire)
            hours.insert("\(local.month!)-\(local.day!) \(local.hour!)")
            #expect(local.minute == 0 && local.second == 0, "\(fire) reads \(local) in New York")
            let next = try #require(cron.next(after: fire))
            #expect(next > fire)
            fire = next
        }
        #expect(count == 8_759)
        #expect(hours.count == 8_759, "no wall-clock hour fired twice")
    }

    @Test func aTimeZoneIsKeptInTheText() throws {
        let cron = try CronExpression("CRON_TZ=Europe/Paris 0 0 3 * * *")
        #expect(cron.timeZone?.identifier == "Europe/Paris")
        let data = try JSONEncoder().encode(cron)
        #expect(try JSONDecoder().decode(String.self, from: data) == "CRON_TZ=Europe/Paris 0 0 3 * * *", "stored as written")
        #expect(try JSONDecoder().decode(CronExpression.self, from: data).timeZone?.identifier == "Europe/Paris")
        #expect(try CronExpression("0 0 3 * * *").timeZone == nil)
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
