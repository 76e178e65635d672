import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// One record that does not decode (written by hand, or by a later coord with a schedule or
/// status this one cannot read) made `coord jobs`, `coord runs` and `coord workers` fail whole,
/// hiding every other job, run or worker.
@Suite("listings go on past a record that does not read", .serverLoadLimit)
struct UnreadableRecordListingTests {
    @Test(arguments: SchedulerProcessTests.servers)
    func aJobRecordThatDoesNotReadIsNamedWithTheJobRemoval(backend: TestBackend) async throws {
        let shared = try CoordOnNamespace(backend)
        defer { shared.coord.removeDirectory() }
        try await shared.addHourly("good", "later")
        let store = try await shared.handles.open()
        let key = try SchedulerLayout().job("later")
        _ = try await store.set(key, value: Array(#"{"spec":{"id":"later"}}"#.utf8), ifVersion: nil)

        try await Self.expectListed(["jobs"], ["good"], naming: key, fix: "the other jobs are listed", on: shared)
        #expect(try await shared.run(["jobs"]).stderr.contains("coord job rm later removes it"))
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
        let triggered = try await shared.run(["job", "trigger", "later"])
        let run = triggered.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(triggered.status == 0 && !run.isEmpty, "\(triggered.stderr)")
        let store = try await shared.handles.open()
        let key = try SchedulerLayout().history(of: "later").child("0000000001")
        _ = try await store.create(key, value: Array(#"{"outcome":"postponed"}"#.utf8), mode: .persistent)

        try await Self.expectListed(["jobs"], ["good"], naming: key, fix: "its job is left out, the other jobs are listed", on: shared)
        // `coord runs` shows the pending run, and names the entry.
        try await Self.expectListed(["runs", "later"], ["later"], naming: key, fix: "the other runs are listed", on: shared)
        #expect(try await shared.run(["runs", "later"]).stdoutText.contains(run))
        #expect(try await shared.run(["kv", "rm", key.path]).status == 0, "the advice: coord kv rm \(key)")
        #expect(try await shared.states() == ["good": "active", "later": "active"])
        #expect(try await shared.run(["runs", "later"]).status == 0)
        await shared.handles.closeAll()
    }

    @Test(arguments: SchedulerProcessTests.servers)
    func aWorkerRegistrationThatDoesNotReadIsNamedWithItsKey(backend: TestBackend) async throws {
        let shared = try CoordOnNamespace(backend)
        defer { shared.coord.removeDirectory() }
        try await shared.addHourly("good")
        let store = try await shared.handles.open()
        let key = try SchedulerLayout().worker("ghost")
        _ = try await store.create(key, value: Array(#"{"capacity":"many"}"#.utf8), mode: .persistent)

        try await Self.expectListed(["workers"], [], naming: key, fix: "the other workers are listed", on: shared)
        #expect(try await shared.run(["kv", "rm", key.path]).status == 0)
        let after = try await shared.run(["workers"])
        #expect(after.status == 0 && after.stderr.isEmpty, "\(after.stderr)")
        await shared.handles.closeAll()
    }

    /// `command` and `command --json` list rows whose first column is `first`, name `key` on
    /// stderr with `fix`, and exit with status 7.
    static func expectListed(_ command: [String], _ first: [String], naming key: Key, fix: String, on shared: CoordOnNamespace) async throws {
        let listed = try await shared.run(command)
        #expect(listed.status == 7, "\(listed.stderr)")
        let header = try #require(listed.stdoutText.split(separator: "\n").first.map { String($0.prefix { $0 != " " }) })
        #expect(listed.stdoutText.split(separator: "\n").dropFirst().map { String($0.prefix { $0 != " " }) } == first, "\(listed.stdoutText)")
        #expect(["ID", "JOB"].contains(header), "\(listed.stdoutText)")
        #expect(listed.stderrLines.count == 1, "\(listed.stderr)")
        #expect(listed.stderr.hasPrefix("coord: \(key) does not hold a valid "), "\(listed.stderr)")
        #expect(listed.stderr.contains(fix), "\(listed.stderr)")
        let json = try await shared.run(command + ["--json"])
        #expect(json.status == 7 && json.stdoutText.split(separator: "\n").count == first.count, "\(json.stdoutText)")
    }
}
