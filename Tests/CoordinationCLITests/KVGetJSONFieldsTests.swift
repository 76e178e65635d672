import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord kv get --help` listed the fields of --json as key, value, version, createRevision,
/// modRevision and ephemeral, while an ephemeral key's record has ownerSession too: a reader
/// checking the fields against the help met one it did not name.
@Suite("coord kv get --json prints the fields its help names", .serverLoadLimit)
struct KVGetJSONFieldsTests {
    @Test("an ephemeral key's --json has the fields kv get --help lists, ownerSession its session's id", arguments: SchedulerProcessTests.servers)
    func ephemeralKeyFields(backend: TestBackend) async throws {
        try await CoordProcess.onFreshNamespace(of: backend) { store, url, coord in
            let help = try await coord.run(["kv", "get", "--help"])
            let words = help.stdoutText.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(
                words.contains("key, value (base64), version, createRevision, modRevision, ephemeral and, for an ephemeral key, ownerSession"),
                "\(help.stdoutText)")

            let created = try await store.create(Key("/app/held"), value: Array("mine".utf8), mode: .ephemeral)
            let shown = try await coord.run(["--store", url, "kv", "get", "/app/held", "--json"])
            #expect(shown.status == 0, "\(shown.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout)) as? [String: Any], "\(shown.stdoutText)")
            #expect(Set(object.keys) == ["key", "value", "version", "createRevision", "modRevision", "ephemeral", "ownerSession"])
            #expect(object["ownerSession"] as? String == created.ownerSession, "\(shown.stdoutText)")
            #expect(object["ephemeral"] as? Bool == true)
        }
    }
}
