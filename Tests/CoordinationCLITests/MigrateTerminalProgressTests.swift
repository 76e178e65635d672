import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord migrate`'s progress on a terminal's stderr: a line drawn from the first report on,
/// however short the copy.
@Suite("coord migrate: progress on a terminal", .serverLoadLimit)
struct MigrateTerminalProgressTests {
    @Test("on a terminal, a copy draws its progress on stderr: the writing phase's done/total and copied counts", arguments: [TestBackend.zookeeper, .etcd])
    func progressDrawn(_ backend: TestBackend) async throws {
        // script(1) gives coord a terminal for stdout and stderr; the progress line has no newline of
        // its own (it is redrawn, then erased), so it arrives with the summary's line, worded otherwise.
        let script = "/usr/bin/script"
        try #require(FileManager.default.isExecutableFile(atPath: script), "script(1) is needed")
        let from = try TestHandles(backend, test: "terminalProgress-\(backend.name)-from")
        let to = try TestHandles(backend, test: "terminalProgress-\(backend.name)-to")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            for name in ["a", "b", "c"] { _ = try await source.create(try Key("/app/" + name), value: [1]) }
            let arguments = [CoordProcess.binary.path, "migrate", "--from", try #require(backend.url(from.namespace)),
                             "--to", try #require(backend.url(to.namespace))]
            let command = arguments.map { "'\($0)'" }.joined(separator: " ")
            let terminal = try await LineProcess(script, ["-qfec", command, "/dev/null"])
            defer { terminal.stop() }
            #expect(try await terminal.exitStatus(within: .seconds(60)) == 0)
            let shown = await terminal.remainingLines().joined(separator: "\n")
            #expect(shown.contains("writing: 4/4 keys, 4 copied, 0 identical, 0 ephemeral skipped"), "\(shown.debugDescription)")
        }
    }
}
