import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// One job record that does not read as a job's (written by hand, or by a later coord with a
/// schedule this one cannot read) made `coord jobs` fail whole, hiding every other job.
@Suite("coord jobs lists the other jobs past one whose record does not read", .serverLoadLimit)
struct UnreadableJobListingTests {
    @Test(arguments: SchedulerProcessTests.servers)
    func theOthersAreListedAndTheUnreadableOneNamed(backend: TestBackend) async throws {
        let shared = try CoordOnNamespace(backend)
        defer { shared.coord.removeDirectory() }
        try await shared.addHourly("good", "later")
        let store = try await shared.handles.open()
        let key = try SchedulerLayout().job("later")
        _ = try await store.set(key, value: Array(#"{"spec":{"id":"later"}}"#.utf8), ifVersion: nil)

        let listed = try await shared.run(["jobs"])
        #expect(listed.status == 7, "\(listed.stderr)")
        #expect(listed.stdoutText.split(separator: "\n").map { $0.prefix { $0 != " " } } == ["ID", "good"], "\(listed.stdoutText)")
        #expect(listed.stderrLines.count == 1, "\(listed.stderr)")
        #expect(listed.stderr.hasPrefix("coord: \(key) does not hold a valid JobRecord: "), "\(listed.stderr)")
        #expect(listed.stderr.contains("the other jobs are listed") && listed.stderr.contains("coord job rm later removes it"), "\(listed.stderr)")
        let json = try await shared.run(["jobs", "--json"])
        #expect(json.status == 7 && json.stdoutText.split(separator: "\n").count == 1 && json.stdoutText.contains(#""id":"good""#), "\(json.stdoutText)")

        // What it advises works.
        #expect(try await shared.run(["job", "rm", "later"]).status == 0)
        let after = try await shared.run(["jobs"])
        #expect(after.status == 0 && after.stderr.isEmpty, "\(after.stderr)")
        await shared.handles.closeAll()
    }
}
