import Coordination

extension ConformanceSuite {
    /// A transaction's writes change the tree exactly as the same writes one by one would: the
    /// children a later operation sees, and the children listed afterwards, include the keys
    /// created earlier in it and leave out the keys deleted earlier in it. A backend that plans a
    /// transaction against the tree as it was before it (not against its own earlier operations)
    /// passes every check that writes one child per transaction and fails these.
    static let transactionTreeChecks: [ConformanceCheck] = [
        ConformanceCheck("transaction-delete-after-creating-its-child-not-empty", clause: 3, "Inside a transaction, deleting a key after creating a child beneath it fails with notEmpty at the delete's index (whether the key existed before or was created earlier in the transaction), and nothing is applied.") { ctx in
            let store = try await ctx.open()
            let existing = try Key("/kept")
            _ = try await store.create(existing, value: [], mode: .persistent)
            let underExisting = try await expectThrows(code: .notEmpty, "a delete of a key given a child earlier in the transaction") {
                try await store.transaction([
                    .create(try existing.child("new"), value: [], mode: .persistent), .delete(existing, ifVersion: nil),
                ])
            }
            try expectEqual(underExisting.failedOperation, 1, "failedOperation of the delete of the existing key")
            try expectEqual(try await store.children(of: existing), [], "children of the existing key after the refused transaction")
            let fresh = try Key("/fresh")
            let underFresh = try await expectThrows(code: .notEmpty, "a delete of a key created with a child earlier in the transaction") {
                try await store.transaction([
                    .create(fresh, value: [], mode: .persistent), .create(try fresh.child("c"), value: [], mode: .persistent),
                    .delete(fresh, ifVersion: 0),
                ])
            }
            try expectEqual(underFresh.failedOperation, 2, "failedOperation of the delete of the key created in the transaction")
            try expect(try await !store.exists(fresh), "nothing of the refused transaction is applied")
        },
        ConformanceCheck("transaction-children-as-one-by-one", clause: 3, "After a transaction that deletes some children of a key and creates others beneath it, children(of:) and walk list exactly the children the same writes one by one leave: no deleted child, no missing new one.") { ctx in
            let store = try await ctx.open()
            let parent = try Key("/folder")
            for name in ["a", "b", "c"] { _ = try await store.create(try parent.child(name), value: [], mode: .persistent) }
            _ = try await store.transaction([
                .delete(try parent.child("a"), ifVersion: nil), .create(try parent.child("d"), value: [], mode: .persistent),
                .delete(try parent.child("c"), ifVersion: nil), .create(try parent.child("e"), value: [], mode: .ephemeral),
            ])
            try expectEqual(try await store.children(of: parent), ["b", "d", "e"], "children after the transaction")
            try expectEqual(
                try await keysUnder(parent, in: store), try ["/folder", "/folder/b", "/folder/d", "/folder/e"].map { try Key($0) },
                "keys walked after the transaction")
            // Emptied and refilled in one transaction: the new child only.
            _ = try await store.transaction([
                .delete(try parent.child("b"), ifVersion: nil), .delete(try parent.child("d"), ifVersion: nil),
                .delete(try parent.child("e"), ifVersion: nil), .create(try parent.child("f"), value: [], mode: .persistent),
            ])
            try expectEqual(try await store.children(of: parent), ["f"], "children after emptying and refilling")
            // A delete of the parent must see exactly that one child.
            try await expectThrows(code: .notEmpty, "a delete of the parent with one child left") {
                try await store.delete(parent, ifVersion: nil, recursive: false)
            }
            try await store.delete(try parent.child("f"), ifVersion: nil, recursive: false)
            try await store.delete(parent, ifVersion: nil, recursive: false)
            try expect(try await !store.exists(parent), "the parent, emptied, is deleted")
        },
    ]
}
