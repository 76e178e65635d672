import Coordination
@testable import CoordinationEtcd
import Testing

/// A key with another tool's key beneath that no Key can name (`/ns/a//x`, `/ns/a/`) is not
/// empty: a transaction's delete refuses it as the standalone delete does, rather than deleting
/// it and leaving the foreign key orphaned beneath a missing parent.
extension EtcdStoreTests {
    /// `refused`: the operation that finds the foreign key beneath (under `/a/b`, already the child's delete).
    @Test(arguments: [("//x", 2), ("/", 2), ("/b//x", 1)])
    func aTransactionsDeleteRefusesAKeyWithAForeignKeyBeneath(foreignTail: String, refused: Int) async throws {
        try await withStore { store, namespace in
            let parent = try Key("/a"), child = try Key("/a/b"), witness = try Key("/witness")
            _ = try await store.create(child, value: [], mode: .persistent)
            _ = try await store.create(witness, value: [0], mode: .persistent)
            let foreign = namespace.path + "/a" + foreignTail
            _ = try await admin.put(foreign, [1])

            let standalone = await #expect(throws: CoordinationError.self) { try await store.delete(parent, ifVersion: nil, recursive: false) }
            #expect(standalone?.code == .notEmpty, "\(String(describing: standalone))")

            // The child goes first in the same transaction, so only the foreign key remains beneath.
            let operations: [Operation] = [
                .set(witness, value: [1], ifVersion: nil), .delete(child, ifVersion: nil), .delete(parent, ifVersion: nil),
            ]
            let error = await #expect(throws: CoordinationError.self) { _ = try await store.transaction(operations) }
            #expect(error?.code == .notEmpty, "\(String(describing: error))")
            #expect(error?.failedOperation == refused, "\(String(describing: error))")
            #expect(error?.key == (refused == 2 ? parent : child), "\(String(describing: error))")
            #expect(try await store.exists(parent), "nothing applied")
            #expect(try await store.exists(child), "nothing applied")
            #expect(try await store.get(witness)?.value == [0], "nothing applied")
            #expect(try await admin.get(foreign)?.value == [1], "the foreign key stays")

            // A recursive standalone delete takes the foreign key with it, as everything beneath.
            try await store.delete(parent, ifVersion: nil, recursive: true)
            #expect(try await admin.get(foreign) == nil)
            #expect(try await store.foreignKeys(under: .root).isEmpty)
        }
    }
}
