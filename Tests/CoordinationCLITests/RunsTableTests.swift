import Foundation
import Testing

@testable import CoordinationCLI

/// The cells of `coord runs`' table, whose columns a reader splits at blanks.
@Suite("runs table")
struct RunsTableTests {
    static func row(_ json: String) throws -> RunRow {
        try JSONDecoder().decode(RunRow.self, from: Data(json.utf8))
    }

    /// An empty MESSAGE cell left a pending run's line ending in FINISHED's padding: nine words
    /// under ten headers, with trailing blanks.
    @Test("a run with no message shows '-' in MESSAGE, and its line has one word per column and no trailing blank")
    func emptyMessageIsADash() throws {
        let pending = try Self.row(#"{"job": "nightly", "run": "t-0000000001-000", "status": "pending", "attempt": 1}"#)
        let blank = try Self.row(#"{"job": "nightly", "run": "t-0000000002-000", "status": "succeeded", "message": ""}"#)
        let said = try Self.row(#"{"job": "nightly", "run": "t-0000000003-000", "status": "failed", "message": "exit 1\nboom"}"#)
        #expect(RunsCommand.tableCells(pending).last == "-")
        #expect(RunsCommand.tableCells(blank).last == "-")
        #expect(RunsCommand.tableCells(said).last == "exit 1 boom")
        let header = ["JOB", "RUN", "WORKER", "TOKEN", "STATUS", "ATTEMPT", "SCHEDULED", "STARTED", "FINISHED", "MESSAGE"]
        let lines = SchedulerTables.render(header, [pending, blank].map(RunsCommand.tableCells))
        for line in lines.dropFirst() {
            #expect(line.split(separator: " ").count == header.count, "\(line)")
            #expect(line.last != " ", "\(line)")
        }
    }
}
