import Coordination
import CoordinationTestSupport
import Testing
@testable import CoordinationMigration

/// A read that fails says which side it was: between two ZooKeepers (or two etcds) the backend's
/// own words ("lost contact with ZooKeeper during…") name no side.
@Suite("StoreMigration read failures")
struct MigrationReadFailureTests {
    /// A store whose reads fail as a lost server's do; writes pass.
    struct Unreadable: ForwardingStore {
        let base: any CoordinationStore
        static var lost: CoordinationError { CoordinationError(.connectionLoss, "lost contact with the test's store") }
        func get(_ key: Key) async throws -> Record? { throw Self.lost }
        func children(of key: Key) async throws -> [String] { throw Self.lost }
        func walk(_ key: Key) -> AsyncThrowingStream<Record, any Error> {
            AsyncThrowingStream { $0.finish(throwing: Self.lost) }
        }
    }

    @Test(
        "a run, or a verify, stopped by a failed read names the side, keeping the store's code",
        arguments: [MigrationOptions.ReadMode.walk, .parallel(width: 4)], ["source", "target"])
    func readFailureNamesTheSide(reads: MigrationOptions.ReadMode, side: String) async throws {
        try await StoreMigrationTests.withStores({ source, target in
            _ = try await source.create(try Key("/a/b"), value: [1])
            var options = MigrationOptions()
            options.sourceReads = reads
            options.targetReads = reads
            let migration = StoreMigration(
                source: side == "source" ? Unreadable(base: source) : source,
                target: side == "target" ? Unreadable(base: target) : target, options: options, logger: StoreMigrationTests.logger)
            let run = try await #require(throws: CoordinationError.self) { try await migration.run() }
            #expect(run.code == .connectionLoss)
            #expect(run.message == "reading the \(side) failed: lost contact with the test's store", "\(run.message)")
            let verify = try await #require(throws: CoordinationError.self) { try await migration.verify() }
            #expect(verify.message == "reading the \(side) failed: lost contact with the test's store", "\(verify.message)")
        }, test: "readFailureNamesTheSide-\(side)-\(reads)")
    }
}
