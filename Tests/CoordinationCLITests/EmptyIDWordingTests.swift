import Foundation
import Testing

/// An empty job or worker id is refused (status 64, before any I/O) as empty, in words about what
/// was typed: Key's words for an empty segment inside a key, "empty segment ('//')", spoke of a
/// slash nobody typed (`coord runs ''` said `'' cannot be a job id: empty segment ('//')`), as
/// `coord lock ''` once did.
@Suite("coord refuses an empty job or worker id without speaking of '//'")
struct EmptyIDWordingTests {
    @Test("job show, job rm, runs, job add and worker --id refuse '' as empty", arguments: [
        ["job", "show", ""], ["job", "rm", "fine", ""], ["runs", ""], ["job", "add", "", "--command", "true"], ["worker", "--id", ""],
    ])
    func emptyID(command: [String]) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        // A port nothing listens on: the refusal comes before any connection.
        let result = try await coord.run(["--store", "etcd://127.0.0.1:9/none"] + command)
        #expect(result.status == 64, "\(command): \(result.stderr)")
        #expect(result.stderrLines.count == 1, "\(command): \(result.stderr)")
        #expect(result.stderr.contains("empty"), "\(command): \(result.stderr)")
        #expect(!result.stderr.contains("'//'"), "\(command): \(result.stderr)")
    }
}
