import CoordinationTestSupport
import Foundation
import Testing

/// A one-shot `--at` job whose pending run was cancelled is finished, and will not fire: `coord
/// jobs` and `coord job show` gave its time as the next fire time all the same, because that was
/// read from the schedule alone.
@Suite("a cancelled one-shot job shows no next fire time", .serverLoadLimit)
struct CancelledOneShotNextFireTests {
    @Test(arguments: SchedulerProcessTests.servers)
    func cancelledAtJob(backend: TestBackend) async throws {
        let shared = try CoordOnNamespace(backend)
        defer { shared.coord.removeDirectory() }
        #expect(try await shared.run(["job", "add", "once", "--command", "true", "--at", "+1h"]).status == 0)
        #expect(try await nextFires(shared) == ["jobs": true, "show": true], "before the cancel, it fires in an hour")

        let cancelled = try await shared.run(["job", "cancel", "once"])
        #expect(cancelled.status == 0, "\(cancelled.stderr)")
        #expect(try await shared.states() == ["once": "finished"])
        #expect(try await nextFires(shared) == ["jobs": false, "show": false])
        await shared.handles.closeAll()
    }

    /// Whether `coord jobs --json` and `coord job show once --json` give a next fire time.
    private func nextFires(_ shared: CoordOnNamespace) async throws -> [String: Bool] {
        let listed = try await shared.run(["jobs", "--json"]).stdoutText
        let row = try JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [String: Any]
        let shown = try await shared.run(["job", "show", "once", "--json"]).stdoutText
        let object = try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [String: Any]
        return ["jobs": row?["nextFire"] is String, "show": object?["nextFire"] is String]
    }
}
