import Coordination

extension ConformanceSuite {
    static let keyChecks: [ConformanceCheck] = [
        ConformanceCheck("key-rejects-relative", clause: 1, "A key that does not start with '/' (or is empty) is refused with invalidKey naming it.") { _ in
            try expectInvalidKey("relative/key")
            try expectInvalidKey("a")
            try expectInvalidKey("", mentioning: "''")
        },
        ConformanceCheck("key-rejects-trailing-slash", clause: 1, "A key ending with '/' is refused with invalidKey naming it.") { _ in
            try expectInvalidKey("/a/")
            try expectInvalidKey("/a/b/")
        },
        ConformanceCheck("key-rejects-empty-segment", clause: 1, "A key with an empty segment ('//') is refused with invalidKey naming it.") { _ in
            try expectInvalidKey("//")
            try expectInvalidKey("//a")
            try expectInvalidKey("/a//b")
        },
        ConformanceCheck("key-rejects-dot-segments", clause: 1, "Segments '.' and '..' are refused with invalidKey naming the key, while '...' and '.a' are fine.") { _ in
            for path in ["/.", "/..", "/a/.", "/a/..", "/a/./b", "/a/../b", "/../x"] { try expectInvalidKey(path) }
            for path in ["/...", "/.a", "/a..", "/a/.hidden"] { _ = try expectValidKey(path) }
        },
        ConformanceCheck("key-rejects-control-characters", clause: 1, "U+0000, U+001F, U+007F and U+0085 in a key are refused with invalidKey naming the key and the character.") { _ in
            for (scalar, code) in [(0x00, "U+0000"), (0x1F, "U+001F"), (0x7F, "U+007F"), (0x85, "U+0085"), (0x0A, "U+000A")] {
                let path = "/bad" + String(Character(Unicode.Scalar(UInt32(scalar))!)) + "key"
                try expectInvalidKey(path, mentioning: "/bad")
                try expectInvalidKey(path, mentioning: code)
            }
        },
        ConformanceCheck("key-rejects-private-use-and-noncharacters", clause: 1, "Private-use characters (U+E000, U+F8FF) and U+FFFE are refused with invalidKey naming the key.") { _ in
            for scalar: UInt32 in [0xE000, 0xF8FF, 0xFFFE, 0xFFFF, 0xFFF0] {
                try expectInvalidKey("/x" + String(Character(Unicode.Scalar(scalar)!)))
            }
        },
        ConformanceCheck("key-rejects-non-bmp", clause: 1, "Characters outside the Basic Multilingual Plane (an emoji) are refused with invalidKey naming the key.") { _ in
            try expectInvalidKey("/party-🎉")
            try expectInvalidKey("/a/𝄞")
        },
        ConformanceCheck("key-rejects-over-long", clause: 1, "A key over the portable length limit is refused with invalidKey naming it; one at the limit is accepted.") { _ in
            let limit = CoordinationLimits.maxKeyBytes
            let tooLong = "/" + String(repeating: "k", count: limit)
            try expectInvalidKey(tooLong, mentioning: "\(limit)")
            _ = try expectValidKey("/" + String(repeating: "k", count: limit - 1))
            // Counted in UTF-8 bytes, not characters.
            try expectInvalidKey("/" + String(repeating: "é", count: limit / 2), mentioning: "\(limit)")
        },
        ConformanceCheck("key-rejects-reserved-zookeeper", clause: 1, "'/zookeeper' and keys beneath it are reserved on every backend: invalidKey naming the key.") { _ in
            try expectInvalidKey("/zookeeper")
            try expectInvalidKey("/zookeeper/x")
            try expectInvalidKey("/zookeeper/quota/a")
        },
        ConformanceCheck("key-stored-names-cannot-smuggle-invalid-segments", clause: 1, "Key.appending(storedName:) and Key(storedPath:), the public ways to build a key from names a store gave back, make no key that Key(_:) refuses ('..', '.', '', 'a/b', control or private-use characters, 'zookeeper' at the top); a valid stored name round-trips on the store.") { ctx in
            let store = try await ctx.open()
            let parent = try Key("/p")
            for name in ["..", ".", "", "a/b", "a\u{1}b", "\u{E000}", "x\u{7F}"] {
                for base in [Key.root, parent] {
                    // Typed as an optional so that the check reads the same whether or not the call can fail.
                    let made: Key? = base.appending(storedName: name)
                    guard let key = made else { continue }
                    // Such a key reached the stores: say what this one did with it.
                    let outcome: String
                    do {
                        outcome = "created \(try await store.create(key, value: [], mode: .persistent).key.path.debugDescription)"
                    } catch {
                        outcome = "\(error)"
                    }
                    throw failure(
                        "appending(storedName: \(name.debugDescription)) to \(base) made the key \(key.path.debugDescription); "
                            + "\(ctx.backendName)'s create said: \(outcome)")
                }
            }
            let reserved: Key? = Key.root.appending(storedName: "zookeeper")
            try expect(reserved == nil, "appending(storedName: \"zookeeper\") to / must make no key: it is reserved at the top")
            for path in ["/..", "/a/./b", "/a//b", "/zookeeper/x", "/a\u{1}", "/a/"] {
                try expect(Key(storedPath: path) == nil, "Key(storedPath: \(path.debugDescription)) must make no key")
            }
            let nested: Key? = parent.appending(storedName: "zookeeper")
            try expectEqual(nested, try Key("/p/zookeeper"), "'zookeeper' beneath the top is an ordinary name")
            let valid = try require(parent.appending(storedName: "ok é") as Key?, "the key of the valid stored name 'ok é'")
            _ = try await store.create(valid, value: bytes("v"), mode: .persistent)
            try expectEqual(try await store.children(of: parent), ["ok é"], "children of \(parent)")
        },
        ConformanceCheck("key-over-long-from-parts-refused-by-create", clause: 1, "A key over the portable length limit built from valid parts (Key.appending(_:), Key(storedPath:)) is refused by a create, alone or in a transaction, with invalidKey naming the limit, before any I/O; with a value at the limit it would have passed etcd's request limit and not ZooKeeper's jute.maxbuffer.") { ctx in
            let store = try await ctx.open()
            let segment = "/" + String(repeating: "s", count: 1_000)
            let joined = try Key(segment).appending(try Key(segment))
            let stored = try require(Key(storedPath: String(repeating: segment, count: 60)), "a 60-segment stored path of 1,000-byte names")
            let big = Array(repeating: UInt8(ascii: "v"), count: CoordinationLimits.maxValueBytes)
            for key in [stored, joined] {
                let outcome: String
                do {
                    outcome = "created (\(try await store.create(key, value: big, mode: .persistent).key.path.utf8.count) bytes)"
                } catch let error as CoordinationError where error.code == .invalidKey {
                    try expect(error.message.contains("\(CoordinationLimits.maxKeyBytes)"), "the invalidKey message names the limit: \(error.message)")
                    continue
                } catch {
                    outcome = "\(error)"
                }
                throw failure("a create of a \(key.path.utf8.count)-byte key with a \(big.count)-byte value on \(ctx.backendName): \(outcome); expected invalidKey")
            }
            await store.close()
            for mode in CreateMode.allCases {
                try await expectThrows(code: .invalidKey, "a \(mode.rawValue) create of a \(joined.path.utf8.count)-byte key on a closed handle") {
                    try await store.create(joined, value: [], mode: mode)
                }
            }
            let refused = try await expectThrows(code: .invalidKey, "a transaction's create of a \(stored.path.utf8.count)-byte key on a closed handle") {
                try await store.transaction([.check(try Key("/a"), version: nil), .create(stored, value: [], mode: .persistent)])
            }
            try expectEqual(refused.failedOperation, 1, "failedOperation")
        },
        ConformanceCheck("key-allows-zookeeper-lookalikes", clause: 1, "'/zookeeperx', '/zoo' and '/a/zookeeper' are ordinary keys that round-trip on the store.") { ctx in
            let store = try await ctx.open()
            for path in ["/zookeeperx", "/zoo", "/a/zookeeper", "/ZooKeeper"] {
                let key = try expectValidKey(path)
                _ = try await store.create(key, value: bytes(path), mode: .persistent)
                try expectEqual(try await store.get(key)?.value, bytes(path), "value of \(path)")
            }
        },
        ConformanceCheck("key-at-length-limit-round-trips", clause: 1, "A key of exactly the portable length limit can be created, read, listed, walked and watched, although the namespace it lives in makes its stored path longer.") { ctx in
            let store = try await ctx.open()
            let folder = try Key("/long")
            let name = String(repeating: "L", count: CoordinationLimits.maxKeyBytes - "/long/".utf8.count)
            let key = try Key("/long/" + name)
            _ = try await store.create(key, value: bytes("long"), mode: .persistent)
            try expectEqual(try await store.get(key)?.value, bytes("long"), "value of the longest key")
            try expectEqual(try await store.children(of: folder), [name], "children of /long")
            try expectEqual(try await store.records(under: folder).map(\.key), [folder, key], "walk of /long")
            let watch = ctx.watch(store, folder, scope: .subtree)
            try expectEqual(try await watch.snapshot().map(\.key), [folder, key], "keys in the snapshot of /long")
            let changed = try await store.set(key, value: bytes("longer"), ifVersion: 0)
            try await watch.until("a put of the longest key") { $0[key] == changed }
        },
        ConformanceCheck("key-unicode-normalization-distinct", clause: 1, "Precomposed 'é' and 'e' + combining acute are two different keys on the store, compared by bytes.") { ctx in
            let store = try await ctx.open()
            let composed = try Key("/u/caf\u{E9}")
            let decomposed = try Key("/u/cafe\u{301}")
            try expect(composed != decomposed, "Key equality must be byte-wise")
            _ = try await store.create(composed, value: bytes("composed"), mode: .persistent)
            _ = try await store.create(decomposed, value: bytes("decomposed"), mode: .persistent)
            try expectEqual(try await store.get(composed)?.value, bytes("composed"), "value of the precomposed key")
            try expectEqual(try await store.get(decomposed)?.value, bytes("decomposed"), "value of the decomposed key")
            let names = try await store.children(of: try Key("/u"))
            try expectEqual(names.count, 2, "number of children of /u")
            try expect(names.map { Array($0.utf8) }.contains(Array("cafe\u{301}".utf8)), "children of /u must hold the decomposed name byte for byte: \(names)")
        },
        ConformanceCheck("key-special-characters-round-trip", clause: 1, "Keys with spaces, '%', ':', '@', '?', '#', '+', '=', '~', '*', quotes and non-ASCII BMP text round-trip through create, get, children and walk.") { ctx in
            let store = try await ctx.open()
            let names = ["with space", "100%", "a:b", "user@host", "q?x=1&y", "#hash", "a+b", "k=v", "~tilde", "*", "'quoted\"", "ключ", "日本語", "a\\b", " lead"]
            let parent = try Key("/special")
            for name in names {
                let key = try parent.child(name)
                let created = try await store.create(key, value: bytes(name), mode: .persistent)
                try expectEqual(created.key, key, "created key for \(name.debugDescription)")
                try expectEqual(try await store.get(key)?.value, bytes(name), "value of \(name.debugDescription)")
            }
            try expectEqual(try await store.children(of: parent), Key.sortedNames(names), "children of /special")
            let walked = try await store.records(under: parent).map(\.key).dropFirst()
            try expectEqual(Array(walked), try Key.sortedNames(names).map { try parent.child($0) }, "walk of /special")
        },
        ConformanceCheck("root-get-invalid-key", clause: 1, "get(/) fails with invalidKey: the root has no record.") { ctx in
            let store = try await ctx.open()
            try await expectThrows(code: .invalidKey, "get(/)") { try await store.get(.root) }
        },
        ConformanceCheck("root-create-and-set-invalid-key", clause: 1, "create(/) and set(/) fail with invalidKey.") { ctx in
            let store = try await ctx.open()
            try await expectThrows(code: .invalidKey, "create(/)") { try await store.create(.root, value: [], mode: .persistent) }
            try await expectThrows(code: .invalidKey, "set(/)") { try await store.set(.root, value: [], ifVersion: nil) }
        },
        ConformanceCheck("root-exists", clause: 1, "exists(/) is true, even in a namespace nothing was written to yet.") { ctx in
            let store = try await ctx.open()
            try expect(try await store.exists(.root), "exists(/) must be true")
        },
        ConformanceCheck("root-children-empty-in-fresh-namespace", clause: 1, "children(of: /) in a fresh, never-written namespace is empty, not noNode.") { ctx in
            let store = try await ctx.open()
            try expectEqual(try await store.children(of: .root), [], "children of / in a fresh namespace")
        },
        ConformanceCheck("root-children-lists-top-level", clause: 1, "children(of: /) lists exactly the top-level keys, sorted.") { ctx in
            let store = try await ctx.open()
            for path in ["/b", "/a/deep/er", "/c"] { _ = try await store.create(try Key(path), value: [], mode: .persistent) }
            try expectEqual(try await store.children(of: .root), ["a", "b", "c"], "children of /")
        },
    ]
}
