import Foundation
import Testing

/// `coord config check`: each setting with its source, passwords masked, then the connection.
@Suite("coord config check")
struct ConfigCheckTests {
    @Test("every setting names its source, and the connection line says what was reached")
    func resolvedAndConnected() async throws {
        let coord = try CoordProcess(environment: ["COORD_LOG_LEVEL": "info"])
        defer { coord.removeDirectory() }
        let result = try await coord.run(["config", "check"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = String(decoding: result.stdout, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("store") && $0.contains("memory://") && $0.hasSuffix("(the default)") })
        #expect(lines.contains { $0.hasPrefix("log level") && $0.contains("info") && $0.contains("COORD_LOG_LEVEL") })
        #expect(lines.last?.hasPrefix("connection") == true && lines.last?.contains("ok: memory") == true, "\(lines)")
    }

    @Test("a password prints as ***, and a store that cannot be reached fails with exit 9")
    func maskedAndUnreachable() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        // Nothing listens on this port of the CLI tests' range: the connection is refused at once.
        let result = try await coord.run(["--store", "etcd://admin:hunter2-secret@127.0.0.1:24998/app", "config", "check"])
        #expect(result.status == 9, "\(result.stderr)")
        let output = String(decoding: result.stdout, as: UTF8.self)
        #expect(output.contains("etcd://admin:***@127.0.0.1:24998/app"))
        #expect(!output.contains("hunter2") && !result.stderr.contains("hunter2"), "the password never shows")
        #expect(result.stderrLines.count == 1)
    }
}
