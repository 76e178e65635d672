import Coordination

extension ConformanceSuite {
    static let treeChecks: [ConformanceCheck] = [
        ConformanceCheck("tree-create-makes-ancestors", clause: 3, "create of /a/b/c makes /a and /a/b as empty, persistent keys at version 0.") { ctx in
            let store = try await ctx.open()
            let created = try await store.create(try Key("/a/b/c"), value: bytes("leaf"), mode: .persistent)
            try expectEqual(created.value, bytes("leaf"), "leaf value")
            for path in ["/a", "/a/b"] {
                let record = try require(try await store.get(try Key(path)), "ancestor \(path)")
                try expectEqual(record.value, [], "value of ancestor \(path)")
                try expectEqual(record.version, 0, "version of ancestor \(path)")
                try expect(!record.isEphemeral, "ancestor \(path) must be persistent")
            }
        },
        ConformanceCheck("tree-create-ephemeral-makes-persistent-ancestors", clause: 3, "An ephemeral create's missing ancestors are persistent and survive the session.") { ctx in
            let store = try await ctx.open()
            let record = try await store.create(try Key("/p/q/e"), value: [], mode: .ephemeral)
            try expect(record.isEphemeral, "the created key must be ephemeral")
            let parent = try require(try await store.get(try Key("/p/q")), "ancestor /p/q")
            try expect(!parent.isEphemeral, "ancestor /p/q must be persistent")
            await store.close()
            let other = try await ctx.open()
            try expect(try await other.exists(try Key("/p/q")), "the ancestor must outlive the session")
        },
        ConformanceCheck("tree-children-sorted-by-bytes", clause: 3, "children(of:) returns names sorted by their UTF-8 bytes (uppercase before lowercase, '10' before '9', 'é' after 'z').") { ctx in
            let store = try await ctx.open()
            let names = ["b", "a", "B", "a1", "é", "z", "Z", "10", "9", "~", "a-b", "a.b", "_x"]
            let parent = try Key("/sorted")
            for name in names { _ = try await store.create(try parent.child(name), value: [], mode: .persistent) }
            let expected = ["10", "9", "B", "Z", "_x", "a", "a-b", "a.b", "a1", "b", "z", "~", "é"]
            try expectEqual(try await store.children(of: parent), expected, "children of /sorted")
        },
        ConformanceCheck("tree-children-and-walk-sorted-by-bytes-not-canonical-order", clause: 3, "Names that Unicode normalization would reorder (e + combining acute sorts before 'f' by bytes, after it canonically) are listed by children(of:) and walk in byte order, compared byte for byte (Swift's String comparison would equate and reorder them).") { ctx in
            let store = try await ctx.open()
            let parent = try Key("/accents")
            // Byte order; canonical (String) order would put both é spellings after "f", tied.
            let expected = ["e", "e\u{301}", "f", "\u{E9}"]
            for name in expected.reversed() { _ = try await store.create(try parent.child(name), value: [], mode: .persistent) }
            let listed = try await store.children(of: parent)
            try expectEqual(listed.map { Array($0.utf8) }, expected.map { Array($0.utf8) }, "children of /accents, as bytes")
            let walked = try await store.records(under: parent).dropFirst().map { Array($0.key.name.utf8) }
            try expectEqual(walked, expected.map { Array($0.utf8) }, "keys walked under /accents, as bytes")
        },
        ConformanceCheck("tree-children-direct-only", clause: 3, "children(of:) lists only direct children, by name, not grandchildren or siblings with a shared prefix.") { ctx in
            let store = try await ctx.open()
            for path in ["/d/x", "/d/y/deep/er", "/dx/no", "/d2"] { _ = try await store.create(try Key(path), value: [], mode: .persistent) }
            try expectEqual(try await store.children(of: try Key("/d")), ["x", "y"], "children of /d")
            try expectEqual(try await store.children(of: try Key("/d/y")), ["deep"], "children of /d/y")
        },
        ConformanceCheck("tree-children-of-leaf-empty", clause: 3, "children(of:) of an existing key without children is empty.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/leaf")
            _ = try await store.create(key, value: [], mode: .persistent)
            try expectEqual(try await store.children(of: key), [], "children of a leaf")
        },
        ConformanceCheck("tree-children-of-missing-no-node", clause: 3, "children(of:) of a missing key fails with noNode.") { ctx in
            let store = try await ctx.open()
            try await expectThrows(code: .noNode, "children of a missing key") { try await store.children(of: try Key("/missing/x")) }
        },
        ConformanceCheck("tree-delete-with-children-not-empty", clause: 3, "Deleting a key that has children fails with notEmpty and deletes nothing.") { ctx in
            let store = try await ctx.open()
            _ = try await store.create(try Key("/n/c"), value: [], mode: .persistent)
            try await expectThrows(code: .notEmpty, "delete of a key with children") { try await store.delete(try Key("/n"), ifVersion: nil, recursive: false) }
            try expect(try await store.exists(try Key("/n/c")), "the child must survive")
            try expect(try await store.exists(try Key("/n")), "the key must survive")
        },
        ConformanceCheck("tree-delete-leaf-then-parent", clause: 3, "Once its children are deleted, a parent can be deleted without recursion.") { ctx in
            let store = try await ctx.open()
            _ = try await store.create(try Key("/n/c"), value: [], mode: .persistent)
            try await store.delete(try Key("/n/c"), ifVersion: nil, recursive: false)
            try await store.delete(try Key("/n"), ifVersion: nil, recursive: false)
            try expect(!(try await store.exists(try Key("/n"))), "/n must be gone")
        },
        ConformanceCheck("tree-recursive-delete-removes-subtree-only", clause: 3, "A recursive delete of /a removes /a and everything beneath it, and leaves /a2, /ab and /b.") { ctx in
            let store = try await ctx.open()
            for path in ["/a/x/y", "/a/x/z", "/a/w", "/a2/k", "/ab", "/b"] { _ = try await store.create(try Key(path), value: [], mode: .persistent) }
            try await store.delete(try Key("/a"), ifVersion: nil, recursive: true)
            try expectEqual(try await keysUnder(.root, in: store), try ["/a2", "/a2/k", "/ab", "/b"].map(Key.init), "keys left")
        },
        ConformanceCheck("tree-recursive-delete-if-version", clause: 3, "A recursive delete with a wrong ifVersion fails with versionConflict and deletes nothing (the version of the key itself is checked before anything is deleted).") { ctx in
            let store = try await ctx.open()
            _ = try await store.create(try Key("/r/c"), value: [], mode: .persistent)
            try await expectThrows(code: .versionConflict, "recursive delete at a wrong version") { try await store.delete(try Key("/r"), ifVersion: 5, recursive: true) }
            try expect(try await store.exists(try Key("/r/c")), "the child must survive")
        },
        ConformanceCheck("tree-recursive-delete-of-root-empties-namespace", clause: 3, "A recursive delete of / removes every key of the namespace; / still exists with no children.") { ctx in
            let store = try await ctx.open()
            for path in ["/a/b", "/c", "/d/e/f"] { _ = try await store.create(try Key(path), value: [], mode: .persistent) }
            try await store.delete(.root, ifVersion: nil, recursive: true)
            try expectEqual(try await store.children(of: .root), [], "children of / after deleting it recursively")
            try expect(try await store.exists(.root), "/ must still exist")
            _ = try await store.create(try Key("/again"), value: [], mode: .persistent)
            try expectEqual(try await store.children(of: .root), ["again"], "the namespace must be usable again")
        },
        ConformanceCheck("tree-recursive-delete-missing-no-node", clause: 3, "A recursive delete of a missing key fails with noNode.") { ctx in
            let store = try await ctx.open()
            try await expectThrows(code: .noNode, "recursive delete of a missing key") { try await store.delete(try Key("/nothing"), ifVersion: nil, recursive: true) }
        },
        ConformanceCheck("tree-ephemeral-parent-refuses-child", clause: 3, "Creating a child of an ephemeral key fails with ephemeralChildren, naming the ephemeral key in the same words on every backend, and creates nothing.") { ctx in
            let store = try await ctx.open()
            _ = try await store.create(try Key("/e"), value: [], mode: .ephemeral)
            for mode in CreateMode.allCases {
                let error = try await expectThrows(code: .ephemeralChildren, "\(mode.rawValue) child of an ephemeral key") {
                    try await store.create(try Key("/e/child"), value: [], mode: mode)
                }
                try expectEqual(error.key, try Key("/e"), "the key the ephemeralChildren error names")
                try expectEqual(error.message, "key /e is ephemeral and cannot have children", "the ephemeralChildren message")
            }
            try expectEqual(try await store.children(of: try Key("/e")), [], "children of the ephemeral key")
        },
        ConformanceCheck("tree-ephemeral-ancestor-refuses-descendant", clause: 3, "Creating /e/x/y under an ephemeral /e fails with ephemeralChildren and creates no ancestor.") { ctx in
            let store = try await ctx.open()
            _ = try await store.create(try Key("/e"), value: [], mode: .ephemeral)
            try await expectThrows(code: .ephemeralChildren, "grandchild of an ephemeral key") {
                try await store.create(try Key("/e/x/y"), value: [], mode: .persistent)
            }
            try expect(!(try await store.exists(try Key("/e/x"))), "/e/x must not be created")
        },
        ConformanceCheck("tree-ephemeral-parent-refuses-child-in-transaction", clause: 3, "Inside a transaction, creating a child of an ephemeral key fails with ephemeralChildren naming that operation, and nothing is applied.") { ctx in
            let store = try await ctx.open()
            _ = try await store.create(try Key("/e"), value: [], mode: .ephemeral)
            let error = try await expectThrows(code: .ephemeralChildren, "transactional child of an ephemeral key") {
                try await store.transaction([
                    .create(try Key("/other"), value: [], mode: .persistent),
                    .create(try Key("/e/child"), value: [], mode: .sequential),
                ])
            }
            try expectEqual(error.failedOperation, 1, "failedOperation")
            try expect(!(try await store.exists(try Key("/other"))), "the first operation must not be applied")
        },
        ConformanceCheck("tree-create-existing-node-exists", clause: 3, "Creating an existing key (in any non-sequential mode) fails with nodeExists and leaves its value.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/x")
            _ = try await store.create(key, value: bytes("first"), mode: .persistent)
            for mode in [CreateMode.persistent, .ephemeral] {
                try await expectThrows(code: .nodeExists, "\(mode.rawValue) create of an existing key") {
                    try await store.create(key, value: bytes("second"), mode: mode)
                }
            }
            let record = try require(try await store.get(key), "the key")
            try expectEqual(record.value, bytes("first"), "value")
            try expect(!record.isEphemeral, "the key must stay persistent")
        },
        ConformanceCheck("tree-create-existing-ancestor-node-exists", clause: 3, "Creating an implicitly created ancestor again fails with nodeExists.") { ctx in
            let store = try await ctx.open()
            _ = try await store.create(try Key("/anc/leaf"), value: [], mode: .persistent)
            try await expectThrows(code: .nodeExists, "create of an implicit ancestor") { try await store.create(try Key("/anc"), value: [], mode: .persistent) }
        },
        ConformanceCheck("tree-depth-limit", clause: 1, "In a namespace as deep as allowed, a key as deep as allowed is created with its ancestors (persistent, sequential, ephemeral, in a transaction); one level deeper is refused with invalidKey naming the limit, before any I/O.") { ctx in
            let segments = CoordinationLimits.maxNamespaceDepth - ctx.namespace.depth
            let store = try await ctx.open(try Key(String(repeating: "/n", count: segments)))
            let limit = CoordinationLimits.maxKeyDepth
            let deepest = try Key(String(repeating: "/d", count: limit))
            _ = try await store.create(deepest, value: bytes("deep"), mode: .persistent)
            try expectEqual(try await store.get(deepest)?.value, bytes("deep"), "value of the deepest key")
            try expectEqual(try await store.children(of: try Key(String(repeating: "/d", count: limit - 1))), ["d"], "children of its parent")
            let sibling = try Key(String(repeating: "/d", count: limit - 1) + "/s-")
            let sequential = try await store.create(sibling, value: [], mode: .sequential)
            try expect(sequential.key.depth == limit, "a sequential key at the limit: \(sequential.key)")
            _ = try await store.create(try Key(String(repeating: "/d", count: limit - 1) + "/e"), value: [], mode: .ephemeral)
            _ = try await store.transaction([.create(try Key(String(repeating: "/d", count: limit - 1) + "/t"), value: [], mode: .persistent)])
            let deeper = try Key(String(repeating: "/d", count: limit + 1))
            let refused = try await expectThrows(code: .invalidKey, "create one level past the limit") {
                try await store.create(deeper, value: [], mode: .persistent)
            }
            try expect(refused.message.contains("\(limit)"), "the error names the limit: \(refused.message)")
            try await expectThrows(code: .invalidKey, "a transaction's create one level past the limit") {
                try await store.transaction([.create(deeper, value: [], mode: .persistent)])
            }
            try expect(try await store.get(try Key(String(repeating: "/d", count: limit) + "/x")) == nil, "nothing made past the limit")
        },
    ]
}
