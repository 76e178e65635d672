import Coordination
import CoordinationTestSupport
import Logging
import Testing
@testable import CoordinationMigration

/// A verify stopped while it reads must throw: the keys read so far would otherwise pass for the
/// whole subtree, and a report of keys "missing on target" (or, both sides cut short, "identical")
/// would be a verdict on what was never compared.
@Suite("StoreMigration verify: cancelled while reading", .serverLoadLimit)
struct MigrationVerifyCancellationTests {
    static func key(_ path: String) -> Key { try! Key(path) }

    @Test("a verify cancelled while it walks the source throws CancellationError, no report", arguments: TestBackend.all)
    func cancelledWhileWalking(_ backend: TestBackend) async throws {
        let from = try TestHandles(backend, test: "verifyCancelled-\(backend.name)-from")
        let to = try TestHandles(backend, test: "verifyCancelled-\(backend.name)-to")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            let target = try await to.open()
            for index in 0..<20 { _ = try await source.create(Self.key("/v/k\(index)"), value: [UInt8(index)]) }
            var options = MigrationOptions(prefix: Self.key("/v"))
            options.progressEvery = 1
            let migration = StoreMigration(source: source, target: target, options: options, logger: Logger(label: "test.migration"))
            _ = try await migration.run()

            let task = Task {
                try await migration.verify { progress in
                    // Reports of a walk come from the verifying task itself: it cancels itself mid-read.
                    if progress.phase == .readingSource && !progress.phaseEnded && progress.read >= 1 {
                        withUnsafeCurrentTask { $0?.cancel() }
                    }
                }
            }
            let result = await task.result
            #expect(throws: CancellationError.self) { _ = try result.get() }
        }
    }
}
