import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A `coord job rm` that stopped right after deleting the job's incarnation key leaves the job
/// refusing changes and no longer fired; `coord jobs` and `coord job show` listed it as active,
/// with a next fire time. They say it is being removed, and that `coord job rm` finishes it.
@Suite("coord jobs and job show say a removal is unfinished", .serverLoadLimit)
struct UnfinishedRemovalCommandTests {
    @Test("a job whose removal stopped halfway shows as removing, with the way to finish it", arguments: SchedulerProcessTests.servers)
    func unfinishedRemovalIsShown(backend: TestBackend) async throws {
        let shared = try CoordOnNamespace(backend)
        defer { shared.coord.removeDirectory() }
        let (handles, coordRun) = (shared.handles, shared.run)
        #expect(try await coordRun(["job", "add", "halfway", "--command", "true", "--every", "1h"]).status == 0)
        #expect(try await coordRun(["job", "add", "kept", "--command", "true", "--every", "1h"]).status == 0)
        // The removal's first deletion, and no more.
        let store = try await handles.open()
        let layout = SchedulerLayout()
        let tag = try #require(try await Scheduler(store: store, layout: layout).job("halfway")?.state.incarnation)
        try await store.delete(try layout.incarnation(of: "halfway", tag: tag), ifVersion: nil)
        let note = "coord: note: halfway is being removed, or its removal stopped halfway: it no longer fires and refuses changes; "
            + "coord job rm halfway finishes the removal"

        let listed = try await coordRun(["jobs", "--json"])
        let rows = try listed.stdoutText.split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let states = rows.map { "\($0["id"] ?? "?") \($0["state"] ?? "?") \($0["nextFire"] == nil ? "-" : "next")" }
        #expect(states == ["halfway removing -", "kept active next"], "\(listed.stdoutText)")
        #expect(listed.stderrLines == [note], "\(listed.stderr)")

        let shown = try await coordRun(["job", "show", "halfway"])
        #expect(shown.status == 0)
        #expect(shown.stdoutText.split(separator: "\n").contains { $0.hasPrefix("state:") && $0.hasSuffix(" removing") }, "\(shown.stdoutText)")
        #expect(shown.stderrLines == [note], "\(shown.stderr)")
        let shownJSON = try await coordRun(["job", "show", "halfway", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(shownJSON.stdout)) as? [String: Any])
        #expect(object["removing"] as? Bool == true && object["nextFire"] == nil, "\(shownJSON.stdoutText)")
        let kept = try #require(try JSONSerialization.jsonObject(with: Data(try await coordRun(["job", "show", "kept", "--json"]).stdout)) as? [String: Any])
        #expect(kept["removing"] == nil)

        #expect(try await coordRun(["job", "rm", "halfway"]).status == 0)
        #expect(try await coordRun(["job", "show", "halfway"]).status == 2)
        await handles.closeAll()
    }
}
