import Coordination

extension ConformanceSuite {
    static let errorChecks: [ConformanceCheck] = [
        ConformanceCheck("error-description-includes-code", clause: 9, "A store's error describes itself starting with its code (noNode, nodeExists, versionConflict).") { ctx in
            let store = try await ctx.open()
            let key = try Key("/e")
            let noNode = try await expectThrows(code: .noNode, "set of a missing key") { try await store.set(key, value: [], ifVersion: nil) }
            _ = try await store.create(key, value: [], mode: .persistent)
            let exists = try await expectThrows(code: .nodeExists, "second create") { try await store.create(key, value: [], mode: .persistent) }
            let conflict = try await expectThrows(code: .versionConflict, "set at a wrong version") { try await store.set(key, value: [], ifVersion: 7) }
            for error in [noNode, exists, conflict] {
                try expect(error.description.hasPrefix(error.code.rawValue), "description must start with the code: \(error.description)")
                try expect(!error.message.isEmpty, "the message must not be empty")
            }
        },
        ConformanceCheck("version-conflict-names-both-versions", clause: 9, "A versionConflict says which version was expected and which the key is at, in the same words on every backend, for a set, a delete and a transaction's check.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/v")
            _ = try await store.create(key, value: [], mode: .persistent)
            _ = try await store.set(key, value: [1], ifVersion: 0)
            let expected = "key /v is not at version 7 (found version 1)"
            let set = try await expectThrows(code: .versionConflict, "set at a wrong version") { try await store.set(key, value: [], ifVersion: 7) }
            let delete = try await expectThrows(code: .versionConflict, "delete at a wrong version") { try await store.delete(key, ifVersion: 7, recursive: false) }
            let check = try await expectThrows(code: .versionConflict, "a transaction's check at a wrong version") {
                _ = try await store.transaction([.check(key, version: 7), .set(key, value: [2], ifVersion: nil)])
            }
            for (error, what) in [(set, "set"), (delete, "delete"), (check, "transaction")] {
                try expect(error.message.contains(expected), "the \(what)'s message must say \"\(expected)\": \(error.message)")
            }
        },
        ConformanceCheck("error-of-one-operation-names-no-transaction-index", clause: 9, "An error of a single get, create, set or delete has no failedOperation: only a transaction's errors name one.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/alone")
            var errors = [try await expectThrows(code: .noNode, "set of a missing key") { try await store.set(key, value: [], ifVersion: nil) }]
            errors.append(try await expectThrows(code: .noNode, "delete of a missing key") { try await store.delete(key, ifVersion: nil, recursive: false) })
            _ = try await store.create(key, value: [], mode: .persistent)
            errors.append(try await expectThrows(code: .nodeExists, "second create") { try await store.create(key, value: [], mode: .persistent) })
            errors.append(try await expectThrows(code: .versionConflict, "set at a wrong version") { try await store.set(key, value: [], ifVersion: 5) })
            errors.append(try await expectThrows(code: .versionConflict, "delete at a wrong version") { try await store.delete(key, ifVersion: 5, recursive: false) })
            for error in errors {
                try expect(error.failedOperation == nil, "the \(error.code.rawValue) error of one operation names operation \(error.failedOperation ?? -1)")
            }
        },
        ConformanceCheck("error-names-the-key", clause: 9, "noNode, nodeExists, versionConflict and notEmpty errors carry the key they are about, relative to the namespace, and name it in the message.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/named/k")
            let noNode = try await expectThrows(code: .noNode, "delete of a missing key") { try await store.delete(key, ifVersion: nil, recursive: false) }
            _ = try await store.create(key, value: [], mode: .persistent)
            let exists = try await expectThrows(code: .nodeExists, "second create") { try await store.create(key, value: [], mode: .persistent) }
            let conflict = try await expectThrows(code: .versionConflict, "delete at a wrong version") { try await store.delete(key, ifVersion: 2, recursive: false) }
            let parent = try Key("/named")
            let notEmpty = try await expectThrows(code: .notEmpty, "delete of a parent") { try await store.delete(parent, ifVersion: nil, recursive: false) }
            for (error, expected) in [(noNode, key), (exists, key), (conflict, key), (notEmpty, parent)] {
                try expectEqual(error.key, expected, "key of the \(error.code.rawValue) error")
                try expect(error.message.contains(expected.path), "the \(error.code.rawValue) message must name \(expected): \(error.message)")
                try expect(!error.message.contains(ctx.namespace.path), "the \(error.code.rawValue) message must not leak the namespace: \(error.message)")
            }
        },
        ConformanceCheck("error-outside-transaction-has-no-index", clause: 9, "An error from a plain operation has no failedOperation.") { ctx in
            let store = try await ctx.open()
            let error = try await expectThrows(code: .noNode, "get children of a missing key") { try await store.children(of: try Key("/none")) }
            try expect(error.failedOperation == nil, "failedOperation must be nil outside a transaction, got \(String(describing: error.failedOperation))")
        },
        ConformanceCheck("error-transaction-create-names-missing-parent", clause: 9, "A transaction's create under a missing parent fails with noNode about the key it creates, in the same words on every backend, naming the parent that is missing.") { ctx in
            let store = try await ctx.open()
            _ = try await store.create(try Key("/here"), value: [], mode: .persistent)
            for mode in CreateMode.allCases {
                let child = try Key("/missing/child")
                let error = try await expectThrows(code: .noNode, "a \(mode.rawValue) create under a missing parent in a transaction") {
                    try await store.transaction([.check(try Key("/here"), version: 0), .create(child, value: [], mode: mode)])
                }
                try expectEqual(error.key, child, "the key the noNode error names")
                try expectEqual(
                    error.message,
                    "transaction operation 2 of 2 failed: cannot create \(child): its parent /missing does not exist (a transaction creates no ancestors)",
                    "the message of a \(mode.rawValue) create's noNode")
            }
        },
        ConformanceCheck("error-none-for-ephemeral-writes-right-after-expiry", clause: 9, "An ephemeral create, ephemeral-sequential create and transaction creating an ephemeral key, sent as soon as the handle's session has expired, succeed on every backend: each lands in the new session (ephemeral, it outlives the expiry and goes when the handle closes), never sessionExpired or another code.") { ctx in
            let store = try await ctx.open()
            let observer = try await ctx.open()
            let events = ctx.sessionEvents(store)
            let before = try await events.next("the current session state")
            let folder = try Key("/after-expiry")
            _ = try await store.create(folder, value: [], mode: .persistent)
            let watch = ctx.watch(observer, folder, scope: .subtree)
            _ = try await watch.snapshot()
            try await ctx.harness.expireSession(of: store)
            let plain = try folder.child("plain"), sequential = try folder.child("seq-"), inTransaction = try folder.child("txn")
            // All at once, before the handle reports its new session: each meets the expiry wherever the backend is in it.
            async let plainOutcome = outcome { try await store.create(plain, value: [], mode: .ephemeral).key }
            async let sequentialOutcome = outcome { try await store.create(sequential, value: [], mode: .ephemeralSequential).key }
            async let transactionOutcome = outcome {
                _ = try await store.transaction([.create(inTransaction, value: [], mode: .ephemeral)])
                return inTransaction
            }
            let outcomes = [("ephemeral create", await plainOutcome), ("ephemeral-sequential create", await sequentialOutcome),
                ("transaction", await transactionOutcome)]
            _ = try await events.until(.expired, sameSession: before.sessionID)
            let renewed = try await events.until(.connected)
            try expect(renewed.sessionID != before.sessionID, "a new session after the expiry, got \(renewed.sessionID) again")
            var landed: Set<Key> = []
            for (what, result) in outcomes {
                let key = try result.mapError { failure("the \(what) sent right after the expiry failed: \($0)") }.get()
                let record = try require(try await observer.get(key), "\(key), which the \(what) after the expiry created, read by another handle")
                try expect(record.isEphemeral, "\(key), created by the \(what) after the expiry, must be ephemeral")
                landed.insert(key)
            }
            // They belong to the live session: they go when it ends.
            await store.close()
            let created = landed
            try await watch.until("the keys created after the expiry to vanish when their handle closes") { state in
                created.allSatisfy { state[$0] == nil }
            }
        },
        ConformanceCheck("error-none-for-plain-operations-right-after-expiry", clause: 9, "A get, a persistent create and a set sent as soon as the handle's session has expired succeed, as on every backend: an expiry takes only what the session owned, and the handle goes on in its new session.") { ctx in
            let store = try await ctx.open()
            let events = ctx.sessionEvents(store)
            let before = try await events.next("the current session state")
            let existing = try Key("/kept")
            _ = try await store.create(existing, value: bytes("v"), mode: .persistent)
            try await ctx.harness.expireSession(of: store)
            // All at once, before the handle reports its new session.
            async let read = outcome { _ = try await store.get(existing); return existing }
            async let created = outcome { try await store.create(try Key("/made-after-expiry"), value: [], mode: .persistent).key }
            async let set = outcome { try await store.set(existing, value: bytes("w"), ifVersion: nil).key }
            for (what, result) in [("get", await read), ("persistent create", await created), ("set", await set)] {
                if case .failure(let error) = result { throw failure("the \(what) sent right after the expiry failed: \(error)") }
            }
            _ = try await events.until(.expired, sameSession: before.sessionID)
            try expectEqual(try await store.get(existing)?.value, bytes("w"), "the value the set after the expiry wrote")
        },
        ConformanceCheck("error-codes-are-stable", clause: 9, "The same situation gives the same code every time: a second identical failing call gives the same code as the first.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/x")
            _ = try await store.create(try Key("/x/y"), value: [], mode: .persistent)
            for _ in 0..<2 {
                try await expectThrows(code: .notEmpty, "delete of a parent") { try await store.delete(key, ifVersion: nil, recursive: false) }
                try await expectThrows(code: .nodeExists, "create of an existing key") { try await store.create(key, value: [], mode: .persistent) }
                try await expectThrows(code: .noNode, "children of a missing key") { try await store.children(of: try Key("/zz")) }
            }
        },
    ]
}

/// The key `body` returns, or the `CoordinationError` it threw (anything else fails the check).
private func outcome(_ body: () async throws -> Key) async -> Result<Key, CoordinationError> {
    do {
        return .success(try await body())
    } catch let error as CoordinationError {
        return .failure(error)
    } catch {
        return .failure(CoordinationError(.unsupported, "not a CoordinationError: \(error)"))
    }
}
