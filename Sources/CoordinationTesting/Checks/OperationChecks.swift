import Coordination

extension ConformanceSuite {
    static let operationChecks: [ConformanceCheck] = [
        ConformanceCheck("set-if-version-match", clause: 5, "set with ifVersion equal to the current version succeeds and returns version + 1.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/s")
            _ = try await store.create(key, value: [], mode: .persistent)
            try expectEqual(try await store.set(key, value: bytes("1"), ifVersion: 0).version, 1, "version after a conditional set at 0")
            try expectEqual(try await store.set(key, value: bytes("2"), ifVersion: 1).version, 2, "version after a conditional set at 1")
        },
        ConformanceCheck("set-if-version-mismatch-conflict", clause: 5, "set with a wrong ifVersion fails with versionConflict and leaves value and version unchanged.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/s")
            _ = try await store.create(key, value: bytes("orig"), mode: .persistent)
            _ = try await store.set(key, value: bytes("one"), ifVersion: nil)
            for wrong: Int64 in [0, 2, 99] {
                try await expectThrows(code: .versionConflict, "set at version \(wrong) of a key at version 1") {
                    try await store.set(key, value: bytes("bad"), ifVersion: wrong)
                }
            }
            let record = try require(try await store.get(key), "the key")
            try expectEqual(record.value, bytes("one"), "value after refused sets")
            try expectEqual(record.version, 1, "version after refused sets")
        },
        ConformanceCheck("set-missing-no-node", clause: 5, "set of a missing key fails with noNode, with or without ifVersion (the missing key wins over the version), and creates nothing.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/missing")
            try await expectThrows(code: .noNode, "set of a missing key") { try await store.set(key, value: [], ifVersion: nil) }
            try await expectThrows(code: .noNode, "conditional set of a missing key") { try await store.set(key, value: [], ifVersion: 0) }
            try expect(!(try await store.exists(key)), "set must not create")
        },
        ConformanceCheck("delete-if-version-match", clause: 5, "delete with ifVersion equal to the current version deletes the key.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/d")
            _ = try await store.create(key, value: [], mode: .persistent)
            _ = try await store.set(key, value: [], ifVersion: nil)
            try await store.delete(key, ifVersion: 1, recursive: false)
            try expect(!(try await store.exists(key)), "the key must be gone")
        },
        ConformanceCheck("delete-if-version-mismatch-conflict", clause: 5, "delete with a wrong ifVersion fails with versionConflict and the key stays.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/d")
            _ = try await store.create(key, value: [], mode: .persistent)
            try await expectThrows(code: .versionConflict, "delete at a wrong version") { try await store.delete(key, ifVersion: 1, recursive: false) }
            try expect(try await store.exists(key), "the key must stay")
        },
        ConformanceCheck("delete-missing-no-node", clause: 5, "delete of a missing key fails with noNode, with or without ifVersion.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/missing")
            try await expectThrows(code: .noNode, "delete of a missing key") { try await store.delete(key, ifVersion: nil, recursive: false) }
            try await expectThrows(code: .noNode, "conditional delete of a missing key") { try await store.delete(key, ifVersion: 0, recursive: false) }
        },
        ConformanceCheck("versions-no-key-can-have-never-match", clause: 5, "A negative ifVersion or version (ZooKeeper's -1 is its 'any version') or Int64.max never matches: set, delete and a transaction's check, set and delete fail with versionConflict on an existing key and noNode on a missing one, and change nothing.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/v")
            let missing = try Key("/v-missing")
            _ = try await store.create(key, value: bytes("orig"), mode: .persistent)
            for version: Int64 in [-1, -2, .min, .max] {
                try await expectThrows(code: .versionConflict, "set at version \(version)") { try await store.set(key, value: bytes("bad"), ifVersion: version) }
                for recursive in [false, true] {
                    try await expectThrows(code: .versionConflict, "delete (recursive: \(recursive)) at version \(version)") {
                        try await store.delete(key, ifVersion: version, recursive: recursive)
                    }
                    try await expectThrows(code: .noNode, "delete (recursive: \(recursive)) of a missing key at version \(version)") {
                        try await store.delete(missing, ifVersion: version, recursive: recursive)
                    }
                }
                try await expectThrows(code: .noNode, "set of a missing key at version \(version)") { try await store.set(missing, value: [], ifVersion: version) }
                let operations: [Coordination.Operation] = [
                    .check(key, version: version), .set(key, value: bytes("bad"), ifVersion: version), .delete(key, ifVersion: version),
                ]
                for operation in operations {
                    let error = try await expectThrows(code: .versionConflict, "transaction of \(operation) at version \(version)") {
                        try await store.transaction([.create(try Key("/v-new"), value: [], mode: .persistent), operation])
                    }
                    try expectEqual(error.failedOperation, 1, "failedOperation")
                }
            }
            let record = try require(try await store.get(key), "the key")
            try expectEqual(record.value, bytes("orig"), "value after refused writes")
            try expectEqual(record.version, 0, "version after refused writes")
            let missingMade = try await store.exists(missing)
            let newMade = try await store.exists(try Key("/v-new"))
            try expect(!missingMade && !newMade, "nothing created")
        },
        ConformanceCheck("put-creates-then-overwrites", clause: 5, "put creates a missing key (version 0, with ancestors) and overwrites an existing one (version + 1).") { ctx in
            let store = try await ctx.open()
            let key = try Key("/p/k")
            let first = try await store.put(key, value: bytes("one"))
            try expectEqual(first.version, 0, "version after the first put")
            try expect(try await store.exists(try Key("/p")), "put must create ancestors")
            let second = try await store.put(key, value: bytes("two"))
            try expectEqual(second.version, 1, "version after the second put")
            try expectEqual(second.createRevision, first.createRevision, "createRevision after an overwrite")
            try expectEqual(try await store.get(key)?.value, bytes("two"), "value after the second put")
        },
        ConformanceCheck("walk-pre-order-sorted", clause: 5, "walk yields the key, then each child before its own children, siblings in byte order, with the same records get reads.") { ctx in
            let store = try await ctx.open()
            for path in ["/w/b/x", "/w/a/2", "/w/c", "/w/a/1", "/w/B"] {
                _ = try await store.create(try Key(path), value: bytes(path), mode: .persistent)
            }
            let records = try await store.records(under: try Key("/w"))
            let expected = try ["/w", "/w/B", "/w/a", "/w/a/1", "/w/a/2", "/w/b", "/w/b/x", "/w/c"].map(Key.init)
            try expectEqual(records.map(\.key), expected, "walk order")
            for record in records {
                try expectEqual(try await store.get(record.key), record, "walked record of \(record.key)")
            }
        },
        ConformanceCheck("walk-only-subtree", clause: 5, "walk of /w yields nothing of the siblings /w2 or /wx, nor of the parent.") { ctx in
            let store = try await ctx.open()
            for path in ["/w/in", "/w2/out", "/wx", "/v"] { _ = try await store.create(try Key(path), value: [], mode: .persistent) }
            try expectEqual(try await store.records(under: try Key("/w")).map(\.key), try ["/w", "/w/in"].map(Key.init), "walk of /w")
        },
        ConformanceCheck("walk-leaf-yields-itself", clause: 5, "walk of a key without children yields exactly that key.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/leaf")
            let created = try await store.create(key, value: bytes("v"), mode: .persistent)
            try expectEqual(try await store.records(under: key), [created], "walk of a leaf")
        },
        ConformanceCheck("walk-absent-yields-nothing", clause: 5, "walk of a missing key finishes without yielding anything and without error.") { ctx in
            let store = try await ctx.open()
            _ = try await store.create(try Key("/present"), value: [], mode: .persistent)
            try expectEqual(try await store.records(under: try Key("/absent/x")), [], "walk of a missing key")
        },
        ConformanceCheck("walk-root-yields-everything", clause: 5, "walk of / yields every key of the namespace (not / itself), in pre-order.") { ctx in
            let store = try await ctx.open()
            for path in ["/b/c", "/a", "/b/a"] { _ = try await store.create(try Key(path), value: [], mode: .persistent) }
            try expectEqual(try await store.records(under: .root).map(\.key), try ["/a", "/b", "/b/a", "/b/c"].map(Key.init), "walk of /")
        },
        ConformanceCheck("walk-root-of-fresh-namespace-empty", clause: 5, "walk of / in a namespace nothing was written to yields nothing.") { ctx in
            let store = try await ctx.open()
            try expectEqual(try await store.records(under: .root), [], "walk of / in a fresh namespace")
        },
    ]
}
