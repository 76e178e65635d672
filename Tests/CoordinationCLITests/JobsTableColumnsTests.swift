import CoordinationTestSupport
import Foundation
import Testing

/// Each cell of `coord jobs` stands under its own header: with STRATEGY and STATE swapped (mutant
/// C30 of the CLI audit) every test still passed, as none read a cell by its column.
@Suite("coord jobs puts each value under its header", .serverLoadLimit)
struct JobsTableColumnsTests {
    @Test("a paused round-robin job's row reads, header by header, what --json says", arguments: SchedulerProcessTests.servers)
    func cellsUnderTheirHeaders(backend: TestBackend) async throws {
        let shared = try CoordOnNamespace(backend)
        defer { shared.coord.removeDirectory() }
        let add = try await shared.run(["job", "add", "nightly", "--command", "true", "--every", "1h", "--strategy", "round-robin"])
        #expect(add.status == 0, "\(add.stderr)")
        #expect(try await shared.run(["job", "pause", "nightly"]).status == 0)

        let table = try await shared.run(["jobs"])
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdoutText.split(separator: "\n").map(String.init)
        try #require(lines.count == 2, "\(table.stdoutText)")
        let header = SchedulerCommandTests.cells(lines[0])
        let row = SchedulerCommandTests.cells(lines[1])
        #expect(header == ["ID", "SCHEDULE", "STRATEGY", "STATE", "NEXT FIRE", "ACTIVE", "LAST"])
        let cells = Dictionary(uniqueKeysWithValues: zip(header, row))
        #expect(cells["ID"] == "nightly", "\(table.stdoutText)")
        #expect(cells["SCHEDULE"] == "every 1h", "\(table.stdoutText)")
        #expect(cells["STRATEGY"] == "round-robin", "\(table.stdoutText)")
        #expect(cells["STATE"] == "paused", "\(table.stdoutText)")
        #expect(cells["NEXT FIRE"] == "-", "a paused job has no next fire time: \(table.stdoutText)")
        #expect(cells["ACTIVE"] == "0" && cells["LAST"] == "-", "\(table.stdoutText)")

        let json = try await shared.run(["jobs", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout)) as? [String: Any], "\(json.stdoutText)")
        #expect(object["strategy"] as? String == "round-robin" && object["state"] as? String == "paused", "\(json.stdoutText)")
        await shared.handles.closeAll()
    }
}
