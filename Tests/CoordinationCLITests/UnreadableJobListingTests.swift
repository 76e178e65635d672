import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// One record that does not decode (a job's, or a history entry's, written by hand or by a later
/// coord with a schedule or status this one cannot read) made `coord jobs` fail whole, hiding
/// every other job.
@Suite("coord jobs lists the other jobs past one whose records do not read", .serverLoadLimit)
struct UnreadableJobListingTests {
    @Test(arguments: SchedulerProcessTests.servers)
    func aJobRecordThatDoesNotReadIsNamedWithTheJobRemoval(backend: TestBackend) async throws {
        let shared = try CoordOnNamespace(backend)
        defer { shared.coord.removeDirectory() }
        try await shared.addHourly("good", "later")
        let store = try await shared.handles.open()
        let key = try SchedulerLayout().job("later")
        _ = try await store.set(key, value: Array(#"{"spec":{"id":"later"}}"#.utf8), ifVersion: nil)

        try await Self.expectListed(["good"], naming: key, fix: "coord job rm later removes it", on: shared)
        // What it advises works.
        #expect(try await shared.run(["job", "rm", "later"]).status == 0)
        let after = try await shared.run(["jobs"])
        #expect(after.status == 0 && after.stderr.isEmpty, "\(after.stderr)")
        await shared.handles.closeAll()
    }

    @Test(arguments: SchedulerProcessTests.servers)
    func aHistoryEntryThatDoesNotReadIsNamedWithItsKey(backend: TestBackend) async throws {
        let shared = try CoordOnNamespace(backend)
        defer { shared.coord.removeDirectory() }
        try await shared.addHourly("good", "later")
        let store = try await shared.handles.open()
        let key = try SchedulerLayout().history(of: "later").child("0000000001")
        _ = try await store.create(key, value: Array(#"{"outcome":"postponed"}"#.utf8), mode: .persistent)

        try await Self.expectListed(["good"], naming: key, fix: "its job is left out, the other jobs are listed", on: shared)
        #expect(try await shared.run(["kv", "rm", key.path]).status == 0, "the advice: coord kv rm \(key)")
        #expect(try await shared.states() == ["good": "active", "later": "active"])
        await shared.handles.closeAll()
    }

    /// `coord jobs` and `coord jobs --json` list `ids` alone, name `key` on stderr with `fix`,
    /// and exit with status 7.
    static func expectListed(_ ids: [String], naming key: Key, fix: String, on shared: CoordOnNamespace) async throws {
        let listed = try await shared.run(["jobs"])
        #expect(listed.status == 7, "\(listed.stderr)")
        #expect(listed.stdoutText.split(separator: "\n").map { String($0.prefix { $0 != " " }) } == ["ID"] + ids, "\(listed.stdoutText)")
        #expect(listed.stderrLines.count == 1, "\(listed.stderr)")
        #expect(listed.stderr.hasPrefix("coord: \(key) does not hold a valid "), "\(listed.stderr)")
        #expect(listed.stderr.contains(fix), "\(listed.stderr)")
        let json = try await shared.run(["jobs", "--json"])
        #expect(json.status == 7 && json.stdoutText.split(separator: "\n").count == ids.count, "\(json.stdoutText)")
    }
}
