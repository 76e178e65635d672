import Coordination
import CoordinationTestSupport
import Logging
import Testing
@testable import CoordinationMigration

/// ``StoreMigration/targetIsSource()`` when its marker key cannot be written or removed: a
/// failure is no answer (a "no" would let a store be copied into itself), and a marker left
/// behind goes with the target's session.
@Suite("StoreMigration.targetIsSource: the marker key's failures", .serverLoadLimit)
struct MigrationMarkerTests {
    static let logger = Logger(label: "test.migration")

    /// Refuses every transaction (the marker's write) with `permissionDenied`.
    struct RefusingTransactions: ForwardingStore {
        let base: any CoordinationStore
        func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
            throw CoordinationError(.permissionDenied, "not allowed here")
        }
    }

    /// Loses every delete (the marker's removal): the reply never comes.
    struct LosingDeletes: ForwardingStore {
        let base: any CoordinationStore
        func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
            throw CoordinationError(.connectionLoss, "lost the reply")
        }
    }

    /// `body` gets a handle on a fresh namespace and one on `/copy` beneath it: one store, nested namespaces.
    static func withNestedHandles(
        _ backend: TestBackend, test: String = #function,
        _ body: (_ outer: any CoordinationStore, _ inner: any CoordinationStore) async throws -> Void
    ) async throws {
        let handles = try TestHandles(backend, test: "\(test)-\(backend.name)")
        try await TestHandles.closing(handles) {
            let outer = try await handles.open()
            let inner = try await backend.open(handles.namespace.appending(try Key("/copy")), handles.ttl)
            do {
                try await body(outer, inner)
            } catch {
                await inner.close()
                throw error
            }
            await inner.close()
        }
    }

    @Test("a marker the target refuses to write is an error naming the marker, not a \"different stores\"", arguments: TestBackend.all)
    func markerRefused(_ backend: TestBackend) async throws {
        try await Self.withNestedHandles(backend) { outer, inner in
            let migration = StoreMigration(
                source: outer, target: RefusingTransactions(base: inner), options: MigrationOptions(), logger: Self.logger)
            let error = try await #require(throws: CoordinationError.self) { _ = try await migration.targetIsSource() }
            #expect(error.code == .permissionDenied)
            #expect(error.message.contains("writing the marker key"), "\(error.message)")
        }
    }

    @Test("a marker whose removal failed is ephemeral: it goes with the target's session, never into a later copy", arguments: TestBackend.all)
    func markerLeftIsEphemeral(_ backend: TestBackend) async throws {
        try await Self.withNestedHandles(backend) { outer, inner in
            let migration = StoreMigration(
                source: outer, target: LosingDeletes(base: inner), options: MigrationOptions(), logger: Self.logger)
            #expect(try await migration.targetIsSource())
            let markers = try await outer.records(under: .root).filter { $0.key.name.hasPrefix(StoreMigration.markerName) }
            #expect(markers.count == 1, "\(markers.map(\.key))")
            #expect(markers.allSatisfy { $0.isEphemeral }, "\(markers.map(\.key))")
        }
    }
}
