import Foundation
import Testing

@testable import CoordinationCLI

/// `coord job show` of a cron job on another zone's clock (`CRON_TZ=`) gives its next fire time in
/// UTC, as every time coord shows, and what that zone's clock reads then, which is what its
/// expression says.
@Suite struct ZonedNextFireTests {
    @Test func theZonesClockFollowsTheUTCTime() throws {
        let date = try #require(ISO8601DateFormatter().date(from: "2026-12-08T02:00:00Z"))
        let paris = TimeZone(identifier: "Europe/Paris")
        #expect(SchedulerTables.time(date, on: paris) == "2026-12-08T02:00:00Z (2026-12-08T03:00:00+01:00 Europe/Paris)")
        #expect(SchedulerTables.time(date, on: TimeZone(identifier: "UTC")) == "2026-12-08T02:00:00Z", "UTC is said once")
        #expect(SchedulerTables.time(date, on: nil) == "2026-12-08T02:00:00Z")
        #expect(SchedulerTables.time(nil, on: paris) == "-")
    }
}
