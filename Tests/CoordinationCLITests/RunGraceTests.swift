import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord run`'s grace: after SIGINT a running command may still finish, and its run then counts
/// as succeeded. The interrupt tests run commands that outlast the grace, so they only saw runs
/// handed back, which happens with no grace at all too: a grace cut to nothing passed them.
@Suite("coord run's grace on SIGINT", .serverLoadLimit)
struct RunGraceTests {
    @Test("a command that finishes within the grace after SIGINT succeeds: nothing handed back, status 130", arguments: TestBackend.all)
    func commandFinishesWithinTheGrace(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let url = try #require(RunInterruptTests.url(backend, handles))
            let fifo = coord.directory.appendingPathComponent("started").path
            let done = coord.directory.appendingPathComponent("done").path
            #expect(mkfifo(fifo, 0o600) == 0)
            // It tells the test it runs, waits for the test's word, given just before the SIGINT,
            // then ends 3 s later: within the 5 s grace. Timed from the word rather than from a
            // stderr line the test would have to read first: in a full test run the test process
            // was seen to react 30 s late, past the grace.
            let command = "echo started > '\(fifo)'; while [ ! -e '\(done)' ]; do sleep 0.05; done; sleep 3; echo finished"
            let job: [String: Any] = ["id": "finish", "command": command]
            let file = try coord.write(String(decoding: try JSONSerialization.data(withJSONObject: [job]), as: UTF8.self), to: "jobs.json")
            let run = try await RunInterruptTests.LiveCoord(coord, ["--store", url, "run", file])
            _ = try await withDeadline("the command to start", limit: .seconds(90)) {
                try await readLines(fromFIFO: fifo, count: 1)
            }

            // One after the other, with no suspension between them.
            #expect(FileManager.default.createFile(atPath: done, contents: nil))
            kill(run.process.processIdentifier, SIGINT)
            _ = try await run.line(containing: "coord: SIGINT: stopping", limit: .seconds(90))
            let (status, stdout, _) = await run.exit(limit: .seconds(90))

            #expect(status == 130, "\(run.stderrText)")
            #expect(!stdout.contains("handed back"), "\(stdout)")
            let summary = stdout.split(separator: "\n").drop { $0 != "summary:" }
            let header = summary.dropFirst().first?.split(separator: " ", omittingEmptySubsequences: true) ?? []
            let row = summary.first { $0.hasPrefix("finish ") }?.split(separator: " ", omittingEmptySubsequences: true) ?? []
            let cells = Dictionary(zip(header.map(String.init), row.map(String.init))) { first, _ in first }
            #expect(cells["ACTIVE"] == "0" && cells["SUCCEEDED"] == "1", "\(stdout)")
            if backend.name != "memory" {
                let runs = try await coord.run(["--store", url, "runs", "finish", "--json"])
                let rows = runs.stdoutText.split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }
                #expect(rows.map { $0["status"] as? String } == ["succeeded"], "\(runs.stdoutText)")
                #expect(rows.first?["stdoutTail"] as? String == "finished\n", "\(runs.stdoutText)")
            }
        }
    }
}
