import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord job pause|resume|trigger|cancel` take several ids with `coord job rm`'s rules: each job
/// acted on, the missing ones named together with status 2, an impossible id refused before anything.
@Suite("coord job pause, resume, trigger and cancel take several ids", .serverLoadLimit)
struct JobSeveralIDsTests {
    @Test("several ids, all there: each job paused, resumed, triggered (JOB/RUN lines; one job's stay bare) and cancelled", arguments: SchedulerProcessTests.servers)
    func allPresent(backend: TestBackend) async throws {
        let shared = try CoordOnNamespace(backend)
        defer { shared.coord.removeDirectory() }
        try await shared.addHourly("a", "b")
        let paused = try await shared.run(["job", "pause", "a", "b"])
        #expect(paused.status == 0 && paused.stdout.isEmpty && paused.stderr.isEmpty, "\(paused.stderr)")
        #expect(try await shared.states() == ["a": "paused", "b": "paused"])
        let resumed = try await shared.run(["job", "resume", "a", "b"])
        #expect(resumed.status == 0 && resumed.stdout.isEmpty && resumed.stderr.isEmpty, "\(resumed.stderr)")
        #expect(try await shared.states() == ["a": "active", "b": "active"])

        let triggered = try await shared.run(["job", "trigger", "a", "b"])
        #expect(triggered.status == 0 && triggered.stderr.isEmpty, "\(triggered.stderr)")
        let lines = triggered.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.count == 2 && lines[0].hasPrefix("a/t-") && lines[1].hasPrefix("b/t-"), "\(triggered.stdoutText)")
        for line in lines {
            let (job, run) = (String(line.prefix { $0 != "/" }), String(line.drop { $0 != "/" }.dropFirst()))
            let runs = try await shared.run(["runs", job, "--json"])
            #expect(runs.stdoutText.contains(#""run":"\#(run)""#), "\(line): \(runs.stdoutText)")
        }
        // One id (a repeated one is one job): the bare run ids scripts already read.
        let one = try await shared.run(["job", "trigger", "a", "a"])
        #expect(one.status == 0 && one.stdoutText.hasPrefix("t-") && !one.stdoutText.contains("/"), "\(one.stdoutText)")
        #expect(one.stdoutText.split(separator: "\n").count == 1, "triggered once: \(one.stdoutText)")

        let cancelled = try await shared.run(["job", "cancel", "a", "b"])
        #expect(cancelled.status == 0 && cancelled.stdoutText == "a: removed 2 runs pending\nb: removed 1 run pending\n", "\(cancelled.stdoutText)")
        #expect(try await shared.runStatuses("a") == ["cancelled", "cancelled"])
        #expect(try await shared.runStatuses("b") == ["cancelled"])
        await shared.handles.closeAll()
    }

    @Test("one id missing among present ones: the others are still acted on, the missing one named, status 2 as coord job rm", arguments: SchedulerProcessTests.servers)
    func oneMissing(backend: TestBackend) async throws {
        let shared = try CoordOnNamespace(backend)
        defer { shared.coord.removeDirectory() }
        try await shared.addHourly("a", "b")
        func expectMissingNamed(_ result: CoordProcess.Result, _ others: String) {
            #expect(result.status == 2, "\(result.stderr)")
            #expect(result.stderrLines == ["coord: no job nope (\(others)); coord jobs lists the jobs there are"], "\(result.stderr)")
        }
        let paused = try await shared.run(["job", "pause", "a", "nope", "b"])
        expectMissingNamed(paused, "the others were paused")
        #expect(try await shared.states() == ["a": "paused", "b": "paused"])
        let resumed = try await shared.run(["job", "resume", "a", "nope", "b"])
        expectMissingNamed(resumed, "the others were resumed")
        #expect(try await shared.states() == ["a": "active", "b": "active"])
        let triggered = try await shared.run(["job", "trigger", "a", "nope", "b"])
        expectMissingNamed(triggered, "the others were triggered")
        let lines = triggered.stdoutText.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("a/t-") && lines[1].hasPrefix("b/t-"), "\(triggered.stdoutText)")
        let cancelled = try await shared.run(["job", "cancel", "a", "nope", "b"])
        expectMissingNamed(cancelled, "the others' runs were cancelled")
        #expect(cancelled.stdoutText == "a: removed 1 run pending\nb: removed 1 run pending\n", "\(cancelled.stdoutText)")
        #expect(try await shared.runStatuses("a") == ["cancelled"])
        #expect(try await shared.runStatuses("b") == ["cancelled"])
        await shared.handles.closeAll()
    }

    @Test("an impossible id among good ones: status 64 and nothing done to the others", arguments: SchedulerProcessTests.servers)
    func impossibleAmongGood(backend: TestBackend) async throws {
        let shared = try CoordOnNamespace(backend)
        defer { shared.coord.removeDirectory() }
        try await shared.addHourly("a", "b")
        #expect(try await shared.run(["job", "trigger", "a"]).status == 0)
        func expectRefused(_ command: String) async throws {
            let result = try await shared.run(["job", command, "a", "x/y", "b"])
            #expect(result.status == 64, "\(command): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(command): \(result.stdoutText)")
            #expect(result.stderrLines.count == 1 && result.stderr.hasPrefix("coord: 'x/y' cannot be a job id: "), "\(command): \(result.stderr)")
        }
        for command in ["pause", "trigger", "cancel"] { try await expectRefused(command) }
        #expect(try await shared.states() == ["a": "active", "b": "active"], "not paused")
        #expect(try await shared.runStatuses("a") == ["pending"], "neither triggered again nor cancelled")
        #expect(try await shared.runStatuses("b") == [], "not triggered")
        #expect(try await shared.run(["job", "pause", "a", "b"]).status == 0)
        try await expectRefused("resume")
        #expect(try await shared.states() == ["a": "paused", "b": "paused"], "not resumed")
        await shared.handles.closeAll()
    }

    /// On memory:// each coord has a store of its own, so every job given is missing.
    @Test("on the embedded store every id is missing: named once each in one line, status 2", arguments: ["pause", "resume", "trigger", "cancel"])
    func allMissingOnMemory(command: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["job", command, "gone", "also-gone", "gone"])
        #expect(result.status == 2 && result.stdout.isEmpty)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("coord: no jobs gone, also-gone; coord jobs lists the jobs there are (note: memory://"), "\(result.stderr)")
    }
}
