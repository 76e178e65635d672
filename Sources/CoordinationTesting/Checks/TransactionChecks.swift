import Coordination

extension ConformanceSuite {
    static let transactionChecks: [ConformanceCheck] = [
        ConformanceCheck("transaction-all-succeed-results", clause: 5, "A transaction of check, create, set and delete applies them all and returns, per operation: checked, the created record, the set record, deleted.") { ctx in
            let store = try await ctx.open()
            let checked = try Key("/t/checked"), created = try Key("/t/created"), changed = try Key("/t/changed"), deleted = try Key("/t/deleted")
            _ = try await store.create(checked, value: [], mode: .persistent)
            _ = try await store.create(changed, value: bytes("old"), mode: .persistent)
            _ = try await store.create(deleted, value: [], mode: .persistent)
            let results = try await store.transaction([
                .check(checked, version: 0),
                .create(created, value: bytes("new"), mode: .persistent),
                .set(changed, value: bytes("changed"), ifVersion: 0),
                .delete(deleted, ifVersion: 0),
            ])
            try expectEqual(results.count, 4, "number of results")
            try expectEqual(results[0], .checked, "result of the check")
            let createdRecord = try require(results[1].createdRecord, "result of the create (\(results[1]))")
            try expectEqual(createdRecord.key, created, "created key")
            try expectEqual(createdRecord.value, bytes("new"), "created value")
            try expectEqual(createdRecord.version, 0, "created version")
            try expectEqual(try await store.get(created), createdRecord, "get of the created key")
            let setRecord = try require(results[2].setRecord, "result of the set (\(results[2]))")
            try expectEqual(setRecord.version, 1, "version after a transactional set")
            try expectEqual(setRecord.value, bytes("changed"), "value after a transactional set")
            try expectEqual(try await store.get(changed), setRecord, "get of the set key")
            try expectEqual(results[3], .deleted, "result of the delete")
            try expect(!(try await store.exists(deleted)), "the deleted key must be gone")
        },
        ConformanceCheck("transaction-check-wrong-version-fails", clause: 5, "A check at a wrong version fails the transaction with versionConflict at its index, and the other operations are not applied.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/t/k")
            _ = try await store.create(key, value: [], mode: .persistent)
            let error = try await expectThrows(code: .versionConflict, "transaction with a failing check") {
                try await store.transaction([
                    .set(key, value: bytes("x"), ifVersion: nil),
                    .check(key, version: 3),
                ])
            }
            try expectEqual(error.failedOperation, 1, "failedOperation")
            try expectEqual(try await store.get(key)?.version, 0, "version after a failed transaction")
        },
        ConformanceCheck("transaction-check-missing-no-node", clause: 5, "A check of a missing key fails the transaction with noNode (with or without a version).") { ctx in
            let store = try await ctx.open()
            for version: Int64? in [nil, 0] {
                let error = try await expectThrows(code: .noNode, "check of a missing key at \(String(describing: version))") {
                    try await store.transaction([.check(try Key("/missing"), version: version)])
                }
                try expectEqual(error.failedOperation, 0, "failedOperation")
            }
        },
        ConformanceCheck("transaction-third-op-conflict-applies-nothing", clause: 5, "When the third of four operations conflicts, nothing is applied, failedOperation is 2 and the message names operation 3.") { ctx in
            let store = try await ctx.open()
            let existing = try Key("/t/existing"), target = try Key("/t/target")
            _ = try await store.create(existing, value: bytes("orig"), mode: .persistent)
            _ = try await store.create(target, value: [], mode: .persistent)
            _ = try await store.set(target, value: [], ifVersion: nil)
            let error = try await expectThrows(code: .versionConflict, "transaction whose third operation conflicts") {
                try await store.transaction([
                    .create(try Key("/t/new"), value: bytes("new"), mode: .persistent),
                    .set(existing, value: bytes("changed"), ifVersion: 0),
                    .set(target, value: bytes("x"), ifVersion: 0),
                    .delete(existing, ifVersion: nil),
                ])
            }
            try expectEqual(error.failedOperation, 2, "failedOperation")
            try expect(error.message.contains("operation 3"), "the message must name operation 3: \(error.message)")
            try expect(!(try await store.exists(try Key("/t/new"))), "the first operation's create must not be applied")
            let record = try require(try await store.get(existing), "the key the second operation set")
            try expectEqual(record.value, bytes("orig"), "value the second operation set")
            try expectEqual(record.version, 0, "version of the key the second operation set")
            try expectEqual(try await store.get(target)?.version, 1, "version of the conflicting key")
        },
        ConformanceCheck("transaction-create-missing-parent-no-node", clause: 5, "Inside a transaction a create does not make ancestors: with the parent missing it fails with noNode at its index, and nothing is applied.") { ctx in
            let store = try await ctx.open()
            let error = try await expectThrows(code: .noNode, "transactional create under a missing parent") {
                try await store.transaction([
                    .create(try Key("/first"), value: [], mode: .persistent),
                    .create(try Key("/missing/child"), value: [], mode: .persistent),
                ])
            }
            try expectEqual(error.failedOperation, 1, "failedOperation")
            try expect(error.message.contains("operation 2"), "the message must name operation 2: \(error.message)")
            try expect(!(try await store.exists(try Key("/first"))), "the first operation must not be applied")
            try expect(!(try await store.exists(try Key("/missing"))), "the parent must not be created")
        },
        ConformanceCheck("transaction-create-parent-earlier-op", clause: 5, "A create whose parent is created by an earlier operation of the same transaction succeeds.") { ctx in
            let store = try await ctx.open()
            let results = try await store.transaction([
                .create(try Key("/p"), value: [], mode: .persistent),
                .create(try Key("/p/c"), value: bytes("c"), mode: .persistent),
                .create(try Key("/p/c/d"), value: bytes("d"), mode: .persistent),
            ])
            try expectEqual(results.count, 3, "number of results")
            try expectEqual(try await store.get(try Key("/p/c/d"))?.value, bytes("d"), "value of the grandchild")
            try expectEqual(try await store.children(of: try Key("/p")), ["c"], "children of /p")
        },
        ConformanceCheck("transaction-create-then-delete-same-key", clause: 5, "A transaction may create a key and delete it again: results are created then deleted, and the key is absent.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/blink")
            let results = try await store.transaction([
                .create(key, value: [], mode: .persistent),
                .delete(key, ifVersion: 0),
            ])
            try expectEqual(results.count, 2, "number of results")
            try expect(results[0].createdRecord != nil, "the first result must be created, got \(results[0])")
            try expectEqual(results[1], .deleted, "second result")
            try expect(!(try await store.exists(key)), "the key must be absent")
        },
        ConformanceCheck("transaction-delete-non-empty-not-empty", clause: 5, "Deleting a key with children inside a transaction fails with notEmpty at its index.") { ctx in
            let store = try await ctx.open()
            _ = try await store.create(try Key("/n/c"), value: [], mode: .persistent)
            let error = try await expectThrows(code: .notEmpty, "transactional delete of a key with children") {
                try await store.transaction([.delete(try Key("/n"), ifVersion: nil)])
            }
            try expectEqual(error.failedOperation, 0, "failedOperation")
            try expect(try await store.exists(try Key("/n/c")), "the child must survive")
        },
        ConformanceCheck("transaction-delete-children-then-key", clause: 5, "A transaction may delete a key's children (an ephemeral one among them) and then the key: results deleted, deleted, deleted, and all three are absent.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/run")
            _ = try await store.create(try key.child("a"), value: [], mode: .persistent)
            _ = try await store.create(try key.child("claim"), value: [], mode: .ephemeral)
            let results = try await store.transaction([
                .delete(try key.child("claim"), ifVersion: nil), .delete(try key.child("a"), ifVersion: 0), .delete(key, ifVersion: 0),
            ])
            try expectEqual(results, [.deleted, .deleted, .deleted], "results")
            for path in ["/run", "/run/a", "/run/claim"] { try expect(!(try await store.exists(try Key(path))), "\(path) must be absent") }
        },
        ConformanceCheck("transaction-delete-children-then-key-another-left", clause: 5, "Deleting some of a key's children and then the key fails with notEmpty at the key's index when another child is left, and nothing is applied.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/run")
            _ = try await store.create(try key.child("claim"), value: [], mode: .ephemeral)
            _ = try await store.create(try key.child("z"), value: [], mode: .persistent)
            let error = try await expectThrows(code: .notEmpty, "deleting a key with a child left") {
                try await store.transaction([.delete(try key.child("claim"), ifVersion: nil), .delete(key, ifVersion: nil)])
            }
            try expectEqual(error.failedOperation, 1, "failedOperation")
            try expect(try await store.exists(try key.child("claim")), "the deleted child must be back (nothing applied)")
        },
        ConformanceCheck("transaction-delete-child-then-key-grandchild-left", clause: 5, "Deleting a child that has a child of its own and then the key fails with notEmpty at the child's index, and nothing is applied.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/run")
            let grandchild = try key.child("claim").child("below")
            _ = try await store.create(grandchild, value: [], mode: .persistent)
            let error = try await expectThrows(code: .notEmpty, "deleting a child with a child of its own, then the key") {
                try await store.transaction([.delete(try key.child("claim"), ifVersion: nil), .delete(key, ifVersion: nil)])
            }
            try expectEqual(error.failedOperation, 0, "failedOperation")
            try expect(try await store.exists(grandchild), "the grandchild must survive (nothing applied)")
        },
        ConformanceCheck("transaction-create-existing-node-exists", clause: 5, "Creating an existing key inside a transaction fails with nodeExists at its index.") { ctx in
            let store = try await ctx.open()
            _ = try await store.create(try Key("/x"), value: [], mode: .persistent)
            let error = try await expectThrows(code: .nodeExists, "transactional create of an existing key") {
                try await store.transaction([
                    .check(try Key("/x"), version: 0),
                    .create(try Key("/x"), value: [], mode: .persistent),
                ])
            }
            try expectEqual(error.failedOperation, 1, "failedOperation")
        },
        ConformanceCheck("transaction-set-missing-no-node", clause: 5, "Setting a missing key inside a transaction fails with noNode at its index.") { ctx in
            let store = try await ctx.open()
            let error = try await expectThrows(code: .noNode, "transactional set of a missing key") {
                try await store.transaction([.set(try Key("/missing"), value: [], ifVersion: nil)])
            }
            try expectEqual(error.failedOperation, 0, "failedOperation")
        },
        ConformanceCheck("transaction-delete-wrong-version-conflict", clause: 5, "A delete at a wrong version inside a transaction fails with versionConflict at its index, and the key stays.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/d")
            _ = try await store.create(key, value: [], mode: .persistent)
            let error = try await expectThrows(code: .versionConflict, "transactional delete at a wrong version") {
                try await store.transaction([.check(key, version: nil), .delete(key, ifVersion: 4)])
            }
            try expectEqual(error.failedOperation, 1, "failedOperation")
            try expect(try await store.exists(key), "the key must stay")
        },
        ConformanceCheck("transaction-too-many-operations", clause: 5, "A transaction of maxTransactionOperations + 1 (\(CoordinationLimits.maxTransactionOperations + 1)) operations fails with transactionTooLarge and applies nothing.") { ctx in
            let store = try await ctx.open()
            let parent = try Key("/many")
            _ = try await store.create(parent, value: [], mode: .persistent)
            let operations = try (0...CoordinationLimits.maxTransactionOperations).map { Operation.create(try parent.child("k\($0)"), value: [], mode: .persistent) }
            try await expectThrows(code: .transactionTooLarge, "a transaction of \(operations.count) operations") { try await store.transaction(operations) }
            try expectEqual(try await store.children(of: parent), [], "children after a refused transaction")
        },
        ConformanceCheck("transaction-at-operation-limit-succeeds", clause: 5, "A transaction of exactly maxTransactionOperations (\(CoordinationLimits.maxTransactionOperations)) creates succeeds.") { ctx in
            let store = try await ctx.open()
            let parent = try Key("/many")
            _ = try await store.create(parent, value: [], mode: .persistent)
            let operations = try (0..<CoordinationLimits.maxTransactionOperations).map { Operation.create(try parent.child("k\($0)"), value: [], mode: .persistent) }
            let results = try await store.transaction(operations)
            try expectEqual(results.count, operations.count, "number of results")
            try expectEqual(try await store.children(of: parent).count, operations.count, "number of children")
        },
        ConformanceCheck("transaction-at-byte-limit-succeeds", clause: 5, "A transaction of maxTransactionOperations creates of the longest keys whose keys and values add up to exactly maxTransactionBytes succeeds, and every value reads back: the limit holds inside a namespace, whatever the backend adds to each operation.") { ctx in
            let store = try await ctx.open()
            let limit = CoordinationLimits.maxTransactionOperations
            let parent = try Key("/heavy")
            _ = try await store.create(parent, value: [], mode: .persistent)
            let keys = try (0..<limit).map { index in
                let number = String(index)
                return try parent.child(
                    String(repeating: "0", count: 3 - number.count) + number + "-"
                        + String(repeating: "k", count: CoordinationLimits.maxKeyBytes - "/heavy/000-".utf8.count))
            }
            let keyBytes = keys.reduce(0) { $0 + $1.path.utf8.count }
            var remaining = CoordinationLimits.maxTransactionBytes - keyBytes
            let values: [[UInt8]] = (0..<limit).map { index in
                let size = remaining / (limit - index)
                remaining -= size
                return Array(repeating: UInt8(truncatingIfNeeded: index), count: size)
            }
            let operations = zip(keys, values).map { Operation.create($0, value: $1, mode: .persistent) }
            try expectEqual(operations.reduce(0) { $0 + $1.key.path.utf8.count + ($1.value?.count ?? 0) }, CoordinationLimits.maxTransactionBytes, "bytes in the transaction")
            let results = try await store.transaction(operations)
            try expectEqual(results.count, limit, "number of results")
            for (key, value) in zip(keys, values) where key == keys.first || key == keys.last {
                try expectEqual(try await store.get(key)?.value, value, "value of \(key.name.prefix(8))…")
            }
            try expectEqual(try await store.children(of: parent).count, limit, "number of children")
        },
        ConformanceCheck("transaction-at-operation-limit-of-each-kind", clause: 5, "Transactions of exactly maxTransactionOperations (\(CoordinationLimits.maxTransactionOperations)) operations succeed whatever they are: sequential creates, each under a parent of its own or all under one; versioned sets; deletes of keys and of the parents their sequential children were under.") { ctx in
            let store = try await ctx.open()
            let limit = CoordinationLimits.maxTransactionOperations
            let queue = try Key("/limit/queue")
            _ = try await store.create(queue, value: [], mode: .persistent)
            let created = try await store.transaction(Array(repeating: .create(try queue.child("s-"), value: [], mode: .sequential), count: limit))
            let keys = try created.map { try require($0.createdRecord, "a created record").key }
            try expectEqual(Set(keys).count, limit, "distinct sequential keys")
            let spread = try await store.transaction(keys.map { .create(try $0.child("c-"), value: [], mode: .sequential) })
            try expectEqual(spread.compactMap(\.createdRecord).count, limit, "sequential keys under parents of their own")
            _ = try await store.transaction(spread.compactMap(\.createdRecord).map { .delete($0.key, ifVersion: nil) })
            let sets = try await store.transaction(keys.map { .set($0, value: bytes("x"), ifVersion: 0) })
            try expectEqual(sets.compactMap(\.setRecord).map(\.version), Array(repeating: 1, count: limit), "versions after the sets")
            // Half the keys are parents, each emptied of one sequential child in the same transaction.
            var deletes: [Operation] = []
            for parent in keys.prefix(limit / 2) {
                let child = try await store.create(try parent.child("c-"), value: [], mode: .sequential)
                deletes += [.delete(child.key, ifVersion: nil), .delete(parent, ifVersion: 1)]
            }
            _ = try await store.transaction(deletes)
            try expectEqual(try await store.children(of: queue).count, limit / 2, "children left after the deletes")
        },
        ConformanceCheck("transaction-empty-returns-empty", clause: 5, "An empty transaction succeeds and returns no results.") { ctx in
            let store = try await ctx.open()
            try expectEqual(try await store.transaction([]), [], "results of an empty transaction")
        },
        ConformanceCheck("transaction-sequential-create-returns-key", clause: 5, "A sequential create inside a transaction returns the generated key (prefix + 10 digits), which exists afterwards.") { ctx in
            let store = try await ctx.open()
            let parent = try Key("/q")
            _ = try await store.create(parent, value: [], mode: .persistent)
            let results = try await store.transaction([
                .create(try parent.child("job-"), value: bytes("a"), mode: .sequential),
                .create(try parent.child("job-"), value: bytes("b"), mode: .ephemeralSequential),
            ])
            let first = try require(results.first?.createdRecord, "the first result")
            let second = try require(results.last?.createdRecord, "the second result")
            let firstNumber = try sequenceNumber(of: first.key.name, prefix: "job-")
            let secondNumber = try sequenceNumber(of: second.key.name, prefix: "job-")
            try expect(secondNumber > firstNumber, "sequence numbers within one transaction must increase: \(first.key), \(second.key)")
            try expectEqual(try await store.get(first.key)?.value, bytes("a"), "value of the first generated key")
            try expect(try await store.get(second.key)?.isEphemeral == true, "the second generated key must exist and be ephemeral")
        },
        ConformanceCheck("transaction-set-then-plain-set-versions", clause: 5, "Versions continue across transactional and plain sets: create 0, txn set 1, set 2, txn check at 2 passes.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/v")
            _ = try await store.create(key, value: [], mode: .persistent)
            _ = try await store.transaction([.set(key, value: bytes("1"), ifVersion: 0)])
            try expectEqual(try await store.set(key, value: bytes("2"), ifVersion: 1).version, 2, "version after a plain set following a transactional one")
            try expectEqual(try await store.transaction([.check(key, version: 2)]), [.checked], "check at version 2")
        },
        ConformanceCheck("transaction-check-sees-earlier-operations", clause: 5, "A check after a set or delete of the same key in one transaction sees that write: the set's version passes, the version before it fails with versionConflict at the check's index, and after a delete the check fails with noNode; a failed transaction applies nothing.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/seen")
            _ = try await store.create(key, value: bytes("0"), mode: .persistent)
            try expectEqual(
                try await store.transaction([.set(key, value: bytes("1"), ifVersion: 0), .check(key, version: 1)]).count, 2,
                "results of a set and a check at the version it made")
            let stale = try await expectThrows(code: .versionConflict, "a check at the version before the set") {
                try await store.transaction([.set(key, value: bytes("2"), ifVersion: 1), .check(key, version: 1)])
            }
            try expectEqual(stale.failedOperation, 1, "failedOperation of the stale check")
            let gone = try await expectThrows(code: .noNode, "a check of a key deleted earlier in the transaction") {
                try await store.transaction([.delete(key, ifVersion: nil), .check(key, version: nil)])
            }
            try expectEqual(gone.failedOperation, 1, "failedOperation of the check after the delete")
            let record = try require(try await store.get(key), "the key after the refused transactions")
            try expectEqual(record.version, 1, "version after the refused transactions")
            try expectEqual(record.value, bytes("1"), "value after the refused transactions")
        },
        ConformanceCheck("transaction-sees-earlier-deletes-and-ephemerals", clause: 5, "Later operations of a transaction see the earlier ones: a set after a delete of the same key fails with noNode at the set's index, and a create beneath a key created ephemeral earlier fails with ephemeralChildren at its index; either way nothing is applied.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/gone")
            _ = try await store.create(key, value: bytes("v"), mode: .persistent)
            let setAfterDelete = try await expectThrows(code: .noNode, "a set after a delete of the same key") {
                try await store.transaction([.delete(key, ifVersion: nil), .set(key, value: bytes("w"), ifVersion: nil)])
            }
            try expectEqual(setAfterDelete.failedOperation, 1, "failedOperation of the set after the delete")
            try expectEqual(try await store.get(key)?.value, bytes("v"), "the key after the refused transaction")
            let parent = try Key("/brief")
            let childOfEphemeral = try await expectThrows(code: .ephemeralChildren, "a create beneath a key created ephemeral earlier") {
                try await store.transaction([
                    .create(parent, value: [], mode: .ephemeral), .create(try parent.child("c"), value: [], mode: .persistent),
                ])
            }
            try expectEqual(childOfEphemeral.failedOperation, 1, "failedOperation of the child's create")
            try expect(try await !store.exists(parent), "nothing of the refused transaction is applied")
        },
        ConformanceCheck("transaction-root-refused", clause: 1, "The root key in a transaction (check, create, set or delete) fails with invalidKey at its index naming the root, and nothing is applied.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/r")
            let operations: [Operation] = [
                .check(.root, version: nil), .create(.root, value: [], mode: .persistent),
                .set(.root, value: [], ifVersion: nil), .delete(.root, ifVersion: nil),
            ]
            for operation in operations {
                let error = try await expectThrows(code: .invalidKey, "\(operation) after a create") {
                    try await store.transaction([.create(key, value: [], mode: .persistent), operation])
                }
                try expectEqual(error.failedOperation, 1, "failedOperation of \(operation)")
                try expectEqual(error.key, .root, "the key the error names")
                try expect(try await !store.exists(key), "nothing of the refused transaction is applied")
            }
        },
        ConformanceCheck("transaction-writes-one-key-twice", clause: 5, "A transaction may create a key and then set it: the set sees the create (version 1, the second value). etcd cannot put one key twice in a txn and says so with `unsupported`; that is its listed deviation.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/twice")
            let results = try await store.transaction([
                .create(key, value: bytes("first"), mode: .persistent),
                .set(key, value: bytes("second"), ifVersion: 0),
            ])
            try expectEqual(results.count, 2, "one result per operation")
            let record = try require(try await store.get(key), "the key after the transaction")
            try expectEqual(record.value, bytes("second"), "the value written last")
            try expectEqual(record.version, 1, "version after a create and a set")
        },
        ConformanceCheck("transaction-rewrite-of-one-key-exact-or-unsupported", clause: 5, "A transaction that writes one key twice (create then set, set then set, delete then create, delete then create ephemeral) either gives exactly what the operations one by one give (versions, a new createRevision, the mode) or fails with unsupported at the second write's index and applies nothing; never anything else.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/twice/k"), witness = try Key("/twice/witness")
            _ = try await store.create(witness, value: [], mode: .persistent)
            // Each case: the state before (nil: no key), the operations, and the expected (value, version, ephemeral, new key).
            let cases: [(before: [UInt8]?, operations: [Operation], value: [UInt8], version: Int64, ephemeral: Bool, recreated: Bool)] = [
                (nil, [.create(key, value: bytes("1"), mode: .persistent), .set(key, value: bytes("2"), ifVersion: 0)], bytes("2"), 1, false, true),
                (bytes("0"), [.set(key, value: bytes("1"), ifVersion: 0), .set(key, value: bytes("2"), ifVersion: 1)], bytes("2"), 2, false, false),
                (bytes("0"), [.delete(key, ifVersion: 0), .create(key, value: bytes("new"), mode: .persistent)], bytes("new"), 0, false, true),
                (bytes("0"), [.set(key, value: bytes("1"), ifVersion: nil), .delete(key, ifVersion: 1), .create(key, value: bytes("e"), mode: .ephemeral)],
                    bytes("e"), 0, true, true),
            ]
            for (number, testCase) in cases.enumerated() {
                var old: Record?
                if let value = testCase.before { old = try await store.create(key, value: value, mode: .persistent) }
                let operations = testCase.operations + [.set(witness, value: bytes("\(number)"), ifVersion: nil)]
                do {
                    let results = try await store.transaction(operations)
                    let record = try require(try await store.get(key), "case \(number): the key after the transaction")
                    try expectEqual(record.value, testCase.value, "case \(number): value")
                    try expectEqual(record.version, testCase.version, "case \(number): version")
                    try expectEqual(record.isEphemeral, testCase.ephemeral, "case \(number): isEphemeral")
                    let written = try require(results[testCase.operations.count - 1].createdRecord ?? results[testCase.operations.count - 1].setRecord,
                        "case \(number): the last write's record (\(results))")
                    try expectEqual(written, record, "case \(number): the last write's record as read")
                    if let old, testCase.recreated {
                        try expect(record.createRevision > old.createRevision, "case \(number): a key created anew has a larger createRevision")
                    }
                } catch let error as CoordinationError where error.code == .unsupported {
                    let second = testCase.operations.indices.dropFirst().first { testCase.operations[$0].value != nil } ?? 1
                    try expectEqual(error.failedOperation, second, "case \(number): failedOperation of unsupported (\(error.message))")
                    try expectEqual(try await store.get(key), old, "case \(number): the key after a refused transaction")
                    try expect(try await store.get(witness)?.value != bytes("\(number)"), "case \(number): nothing applied")
                }
                if try await store.exists(key) { try await store.delete(key, ifVersion: nil, recursive: false) }
            }
        },
    ]
}
