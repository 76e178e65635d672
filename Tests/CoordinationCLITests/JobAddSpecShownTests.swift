import CoordinationTestSupport
import Foundation
import Testing

/// What `coord job add`'s flags set is what `coord job show` reports: dropping --priority (mutant
/// D05 of the CLI audit) or listing labels in reverse (D07) passed every test.
@Suite("coord job add --priority and --labels reach the job", .serverLoadLimit)
struct JobAddSpecShownTests {
    @Test("job show prints the priority given and the labels sorted by key", arguments: SchedulerProcessTests.servers)
    func priorityAndLabelsShown(backend: TestBackend) async throws {
        let shared = try CoordOnNamespace(backend)
        defer { shared.coord.removeDirectory() }
        let add = try await shared.run([
            "job", "add", "ranked", "--command", "true", "--every", "1h", "--priority", "-3", "--labels", "zone=a,disk=ssd",
        ])
        #expect(add.status == 0, "\(add.stderr)")
        let show = try await shared.run(["job", "show", "ranked"])
        #expect(show.status == 0, "\(show.stderr)")
        var fields: [String: String] = [:]
        for line in show.stdoutText.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        #expect(fields["priority"] == "-3", "\(show.stdoutText)")
        #expect(fields["labels"] == "disk=ssd,zone=a", "\(show.stdoutText)")
        await shared.handles.closeAll()
    }
}
