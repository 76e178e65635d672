import Coordination

extension ConformanceSuite {
    static let recordChecks: [ConformanceCheck] = [
        ConformanceCheck("record-created-at-version-zero", clause: 4, "A created record has the key, the value, version 0, positive revisions with modRevision == createRevision, and is what get returns.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/r")
            let created = try await store.create(key, value: bytes("v"), mode: .persistent)
            try expectEqual(created.key, key, "key")
            try expectEqual(created.value, bytes("v"), "value")
            try expectEqual(created.version, 0, "version at creation")
            try expect(created.createRevision > 0, "createRevision must be positive, got \(created.createRevision)")
            try expectEqual(created.modRevision, created.createRevision, "modRevision at creation")
            try expectEqual(try await store.get(key), created, "get after create")
        },
        ConformanceCheck("record-version-increments-per-set", clause: 4, "Each set increments the version by exactly 1 (five sets: versions 1...5), as returned and as read.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/r")
            _ = try await store.create(key, value: [], mode: .persistent)
            for expected in Int64(1)...5 {
                let record = try await store.set(key, value: bytes("v\(expected)"), ifVersion: nil)
                try expectEqual(record.version, expected, "version returned by set #\(expected)")
                try expectEqual(try await store.get(key)?.version, expected, "version read after set #\(expected)")
            }
        },
        ConformanceCheck("record-set-returns-what-get-reads", clause: 4, "The record returned by set equals the one get reads right after.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/r")
            _ = try await store.create(key, value: [], mode: .persistent)
            let record = try await store.set(key, value: bytes("new"), ifVersion: nil)
            try expectEqual(try await store.get(key), record, "get after set")
        },
        ConformanceCheck("record-set-keeps-create-revision", clause: 4, "A set leaves createRevision unchanged and raises modRevision above its previous value.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/r")
            let created = try await store.create(key, value: [], mode: .persistent)
            var previous = created.modRevision
            for round in 1...3 {
                let record = try await store.set(key, value: bytes("\(round)"), ifVersion: nil)
                try expectEqual(record.createRevision, created.createRevision, "createRevision after set #\(round)")
                try expect(record.modRevision > previous, "modRevision must increase: \(record.modRevision) after \(previous)")
                previous = record.modRevision
            }
        },
        ConformanceCheck("record-revisions-ordered-across-keys", clause: 4, "Revisions are store-global: keys created one after another have increasing createRevisions, and a later set's modRevision exceeds them all.") { ctx in
            let store = try await ctx.open()
            let other = try await ctx.open()
            var last: Int64 = 0
            for (index, path) in ["/k/1", "/j", "/k/0", "/a"].enumerated() {
                // Alternate handles: the order is the store's, not a handle's.
                let writer = index.isMultiple(of: 2) ? store : other
                let record = try await writer.create(try Key(path), value: [], mode: .persistent)
                try expect(record.createRevision > last, "createRevision of \(path) (\(record.createRevision)) must exceed the previous one (\(last))")
                last = record.createRevision
            }
            let set = try await other.set(try Key("/k/1"), value: bytes("later"), ifVersion: nil)
            try expect(set.modRevision > last, "a later set's modRevision (\(set.modRevision)) must exceed every earlier createRevision (\(last))")
        },
        ConformanceCheck("record-recreate-resets-version", clause: 4, "A key deleted and created again starts at version 0 with a larger createRevision.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/again")
            let first = try await store.create(key, value: [], mode: .persistent)
            _ = try await store.set(key, value: bytes("x"), ifVersion: nil)
            try await store.delete(key, ifVersion: nil, recursive: false)
            let second = try await store.create(key, value: [], mode: .persistent)
            try expectEqual(second.version, 0, "version after re-creation")
            try expect(second.createRevision > first.createRevision, "the new createRevision must be larger")
        },
        ConformanceCheck("record-ephemeral-flag", clause: 4, "isEphemeral is true for ephemeral and ephemeral-sequential keys, false for persistent and sequential ones, as created and as read by another handle.") { ctx in
            let store = try await ctx.open()
            let reader = try await ctx.open()
            for mode in CreateMode.allCases {
                let created = try await store.create(try Key("/flag/\(mode.rawValue)"), value: [], mode: mode)
                try expectEqual(created.isEphemeral, mode.isEphemeral, "isEphemeral of a created \(mode.rawValue) key")
                let read = try require(try await reader.get(created.key), "\(created.key) from another handle")
                try expectEqual(read.isEphemeral, mode.isEphemeral, "isEphemeral of a \(mode.rawValue) key read by another handle")
            }
        },
        ConformanceCheck("record-ephemeral-owner-session", clause: 4, "ownerSession of an ephemeral or ephemeral-sequential key is the sessionID of the handle that created it: as created, set, read by another handle, walked, returned by a transaction and seen through a watch's snapshot and events; a persistent or sequential key's is nil; once the session expired, a new ephemeral key names the new session.") { ctx in
            let store = try await ctx.open()
            let reader = try await ctx.open()
            let events = ctx.sessionEvents(store)
            let mine = try await events.next("the current session state").sessionID
            try expect(!mine.isEmpty && mine != reader.session.sessionID, "two handles have distinct session ids, got \(mine) and \(reader.session.sessionID)")
            let folder = try Key("/owner")
            let early = try await store.create(folder.child("early"), value: [], mode: .ephemeral)
            let watch = ctx.watch(reader, folder, scope: .subtree)
            let snapshot = try await watch.snapshot()
            try expectEqual(snapshot.first { $0.key == early.key }?.ownerSession, mine, "ownerSession of \(early.key) in a watch's snapshot")
            // A dictionary of optionals: `updateValue` keeps a nil owner as an entry.
            var expected: [Key: String?] = [early.key: mine]
            for mode in CreateMode.allCases {
                let owner = mode.isEphemeral ? mine : nil
                let created = try await store.create(try folder.child(mode.rawValue), value: [], mode: mode)
                try expectEqual(created.ownerSession, owner, "ownerSession of a created \(mode.rawValue) key")
                let read = try require(try await reader.get(created.key), "\(created.key) from another handle")
                try expectEqual(read.ownerSession, owner, "ownerSession of a \(mode.rawValue) key read by another handle")
                let set = try await reader.set(created.key, value: bytes("set"), ifVersion: nil)
                try expectEqual(set.ownerSession, owner, "ownerSession of a \(mode.rawValue) key set by another handle")
                expected.updateValue(owner, forKey: created.key)
            }
            let results = try await store.transaction([
                .create(try folder.child("in-transaction"), value: [], mode: .ephemeral),
                .set(early.key, value: bytes("set"), ifVersion: 0),
                .create(try folder.child("persistent-in-transaction"), value: [], mode: .persistent),
            ])
            let transacted = [results[0].createdRecord, results[1].setRecord, results[2].createdRecord].compactMap { $0 }
            try expectEqual(transacted.map(\.ownerSession), [mine, mine, nil], "ownerSession of a transaction's created, set and created persistent keys")
            expected.updateValue(mine, forKey: transacted[0].key)
            expected.updateValue(nil, forKey: transacted[2].key)
            var walked: [Key: String?] = [:]
            for try await record in reader.walk(folder) where record.key != folder { walked.updateValue(record.ownerSession, forKey: record.key) }
            try expectEqual(walked, expected, "ownerSession of every key walked by another handle")
            let keys = Set(expected.keys)
            try await watch.until("every key in the watch") { state in keys.isSubset(of: state.keys) }
            try expectEqual(
                Dictionary(uniqueKeysWithValues: keys.map { ($0, watch.state[$0]!.ownerSession) }), expected,
                "ownerSession of every key seen through a watch")

            try await ctx.harness.expireSession(of: store)
            _ = try await events.until(.expired, sameSession: mine)
            let renewed = try await events.until(.connected).sessionID
            try expect(renewed != mine, "a new session after the expiry, got \(renewed) again")
            let later = try await store.create(try folder.child("later"), value: [], mode: .ephemeral)
            try expectEqual(later.ownerSession, renewed, "ownerSession of an ephemeral key created in the new session")
            try expectEqual(try await reader.get(later.key)?.ownerSession, renewed, "ownerSession of that key read by another handle")
        },
        ConformanceCheck("record-get-missing-nil", clause: 4, "get of a missing key (and of a key under a missing parent) returns nil.") { ctx in
            let store = try await ctx.open()
            try expect(try await store.get(try Key("/missing")) == nil, "get of a missing key must be nil")
            try expect(try await store.get(try Key("/missing/deeper/still")) == nil, "get under a missing parent must be nil")
        },
        ConformanceCheck("record-exists", clause: 4, "exists is false before a create, true after, false after the delete.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/e/x")
            try expect(!(try await store.exists(key)), "exists before create")
            _ = try await store.create(key, value: [], mode: .persistent)
            try expect(try await store.exists(key), "exists after create")
            try expect(try await store.exists(try Key("/e")), "exists of an implicit ancestor")
            try await store.delete(key, ifVersion: nil, recursive: false)
            try expect(!(try await store.exists(key)), "exists after delete")
        },
        ConformanceCheck("record-transaction-writes-share-one-revision", clause: 4, "The keys one transaction creates share its createRevision, which is also the modRevision of every key it sets, as returned and as read; a later create gets a larger one, an earlier key a smaller one.") { ctx in
            let store = try await ctx.open()
            let before = try await store.create(try Key("/r/before"), value: [], mode: .persistent)
            let results = try await store.transaction([
                .create(try Key("/r/a"), value: bytes("a"), mode: .persistent),
                .set(before.key, value: bytes("set"), ifVersion: 0),
                .create(try Key("/r/a/b"), value: bytes("b"), mode: .ephemeral),
                .create(try Key("/r/s-"), value: [], mode: .sequential),
            ])
            let records = [results[0].createdRecord, results[1].setRecord, results[2].createdRecord, results[3].createdRecord].compactMap { $0 }
            try expectEqual(records.count, 4, "records returned by the transaction: \(results)")
            let revision = records[0].createRevision
            try expect(revision > before.createRevision, "the transaction's revision \(revision) must exceed the earlier create's \(before.createRevision)")
            for record in records {
                if record.key != before.key { try expectEqual(record.createRevision, revision, "createRevision of \(record.key)") }
                try expectEqual(record.modRevision, revision, "modRevision of \(record.key)")
                try expectEqual(try await store.get(record.key), record, "\(record.key) as read")
            }
            let after = try await store.create(try Key("/r/after"), value: [], mode: .persistent)
            try expect(after.createRevision > revision, "a later create's revision \(after.createRevision) must exceed the transaction's \(revision)")
        },
        ConformanceCheck("record-parent-unchanged-by-its-children", clause: 4, "A key's record (value, version, revisions) stays as it was while its children come and go: persistent, ephemeral, sequential and ephemeral-sequential creates, a set, deletes, and a transaction's create and delete beneath it; only its own set moves its version and modRevision.") { ctx in
            let store = try await ctx.open()
            let parent = try Key("/p")
            let before = try await store.create(parent, value: bytes("parent"), mode: .persistent)
            let child = try Key("/p/c")
            _ = try await store.create(child, value: [], mode: .persistent)
            _ = try await store.create(try Key("/p/e"), value: [], mode: .ephemeral)
            _ = try await store.create(try Key("/p/s-"), value: [], mode: .sequential)
            _ = try await store.create(try Key("/p/es-"), value: [], mode: .ephemeralSequential)
            _ = try await store.set(child, value: bytes("changed"), ifVersion: nil)
            _ = try await store.create(try Key("/p/c/deeper"), value: [], mode: .persistent)
            try await store.delete(child, ifVersion: nil, recursive: true)
            _ = try await store.transaction([.create(try Key("/p/t"), value: [], mode: .persistent), .delete(try Key("/p/e"), ifVersion: nil)])
            try expectEqual(try await store.get(parent), before, "the parent's record after its children's changes")
            let set = try await store.set(parent, value: bytes("own"), ifVersion: 0)
            try expect(
                set.version == 1 && set.createRevision == before.createRevision && set.modRevision > before.modRevision,
                "the parent's own set: version 1, same createRevision, a larger modRevision; got \(set)")
        },
    ]
}
