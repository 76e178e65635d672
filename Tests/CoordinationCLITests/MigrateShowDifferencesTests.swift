import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord migrate --verify --show-differences N`: the first N differences are listed, the rest
/// counted, on either server.
@Suite("coord migrate --verify: how many differences it lists", .serverLoadLimit)
struct MigrateShowDifferencesTests {
    @Test("--show-differences 1 lists the first difference and counts the other two; 0 lists none and counts three", arguments: [TestBackend.zookeeper, .etcd])
    func listedAndCounted(_ backend: TestBackend) async throws {
        let from = try TestHandles(backend, test: "showDifferences-\(backend.name)-from")
        let to = try TestHandles(backend, test: "showDifferences-\(backend.name)-to")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            for name in ["a", "b", "c"] { _ = try await source.create(try Key("/" + name), value: [1]) }
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let fromURL = try #require(backend.url(from.namespace))
            let toURL = try #require(backend.url(to.namespace))
            func listed(_ result: CoordProcess.Result) -> [String] {
                result.stdoutText.split(separator: "\n").filter { $0.hasPrefix("  ") }.map(String.init)
            }

            let one = try await coord.run(["migrate", "--from", fromURL, "--to", toURL, "--verify", "--dry-run", "--show-differences", "1"])
            #expect(one.status == 1, "\(one.stderr)")
            #expect(one.stdoutText.contains(": 3 differences\n"), "\(one.stdoutText)")
            #expect(listed(one) == ["  missing on target: /a", "  … and 2 more"], "\(one.stdoutText)")

            let none = try await coord.run(["migrate", "--from", fromURL, "--to", toURL, "--verify", "--dry-run", "--show-differences", "0"])
            #expect(none.status == 1, "\(none.stderr)")
            #expect(listed(none) == ["  … and 3 more"], "\(none.stdoutText)")
        }
    }
}
