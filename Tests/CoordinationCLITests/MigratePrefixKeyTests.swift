import Foundation
import Testing

/// A `--prefix` that is no key is refused naming the option: "invalid key 'config'" alone left the
/// user to guess which of the command's paths was meant.
@Suite("coord migrate names --prefix when it is no key")
struct MigratePrefixKeyTests {
    @Test func aRelativePrefixIsRefusedNamingTheOption() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["migrate", "--from", "memory://a", "--to", "memory://b", "--prefix", "config"])
        #expect(result.status == 6, "\(result.stderr)")
        #expect(result.stderrLines == ["coord: --prefix: invalid key 'config': a key must be absolute, starting with '/'"])
    }
}
