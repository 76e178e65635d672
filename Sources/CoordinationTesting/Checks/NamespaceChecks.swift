import Coordination

extension ConformanceSuite {
    static let namespaceChecks: [ConformanceCheck] = [
        ConformanceCheck("namespace-handle-reports-namespace", clause: 10, "A handle opened under a namespace reports it as `namespace`; records and keys it returns are relative to it.") { ctx in
            let sub = try Key("/ns")
            let store = try await ctx.open(sub)
            try expectEqual(store.namespace, ctx.namespace.appending(sub), "namespace of the handle")
            let record = try await store.create(try Key("/a/b"), value: [], mode: .persistent)
            try expectEqual(record.key, try Key("/a/b"), "key of the created record")
            let sequential = try await store.create(try Key("/a/s-"), value: [], mode: .sequential)
            try expectEqual(sequential.key.parent, try Key("/a"), "parent of a generated key")
            try expectEqual(try await store.get(try Key("/a/b"))?.key, try Key("/a/b"), "key of a read record")
        },
        ConformanceCheck("namespace-key-exists-once-opened", clause: 10, "Opening a handle under /ns/inner makes /ns and /ns/inner exist, empty, for a handle at the parent.") { ctx in
            let outer = try await ctx.open()
            _ = try await ctx.open(try Key("/ns/inner"))
            for key in [try Key("/ns"), try Key("/ns/inner")] {
                let record = try require(try await outer.get(key), "\(key) from the parent handle")
                try expectEqual(record.value, [], "value of \(key)")
                try expect(!record.isEphemeral, "\(key) must be persistent")
            }
        },
        ConformanceCheck("namespace-deleted-from-outside-made-again-by-a-create", clause: 10, "Once the parent handle deletes /ns recursively, a create beneath /ns's root, alone or in a transaction, makes /ns again: no key is left without its parent.") { ctx in
            let outer = try await ctx.open()
            let inner = try await ctx.open(try Key("/ns"))
            for viaTransaction in [false, true] {
                try await outer.delete(try Key("/ns"), ifVersion: nil, recursive: true)
                let key = try Key(viaTransaction ? "/in-transaction" : "/alone")
                if viaTransaction {
                    _ = try await inner.transaction([.create(key, value: [], mode: .persistent)])
                } else {
                    _ = try await inner.create(key, value: [], mode: .persistent)
                }
                try expect(try await outer.exists(try Key("/ns")), "/ns must exist again after a create \(viaTransaction ? "in a transaction" : "alone")")
                try expectEqual(try await outer.children(of: try Key("/ns")), [key.name], "children of /ns")
            }
        },
        ConformanceCheck("namespace-ephemeral-key-takes-no-children", clause: 10, "Once the parent handle replaces /ns with an ephemeral key, a create beneath /ns's root, alone or in a transaction, fails with ephemeralChildren.") { ctx in
            let outer = try await ctx.open()
            let inner = try await ctx.open(try Key("/ns"))
            try await outer.delete(try Key("/ns"), ifVersion: nil, recursive: true)
            _ = try await outer.create(try Key("/ns"), value: [], mode: .ephemeral)
            _ = try await expectThrows(code: .ephemeralChildren, "a create beneath an ephemeral namespace key") {
                try await inner.create(try Key("/a"), value: [], mode: .persistent)
            }
            let error = try await expectThrows(code: .ephemeralChildren, "a transaction's create beneath an ephemeral namespace key") {
                try await inner.transaction([.create(try Key("/b"), value: [], mode: .persistent)])
            }
            try expectEqual(error.failedOperation, 0, "failedOperation")
            try expectEqual(try await outer.children(of: try Key("/ns")), [], "children of the ephemeral /ns")
        },
        ConformanceCheck("namespace-writes-visible-from-parent", clause: 10, "A key /a written by a handle under /ns is seen at /ns/a by a handle at the parent, with the same value and version.") { ctx in
            let inner = try await ctx.open(try Key("/ns"))
            let outer = try await ctx.open()
            let written = try await inner.create(try Key("/a"), value: bytes("in"), mode: .persistent)
            let seen = try require(try await outer.get(try Key("/ns/a")), "/ns/a from the parent handle")
            try expectEqual(seen.value, bytes("in"), "value")
            try expectEqual(seen.version, written.version, "version")
            try expectEqual(seen.createRevision, written.createRevision, "createRevision")
        },
        ConformanceCheck("namespace-parent-writes-visible-inside", clause: 10, "A key /ns/b written by the parent handle is seen at /b inside /ns, and listed by children(of: /).") { ctx in
            let outer = try await ctx.open()
            let inner = try await ctx.open(try Key("/ns"))
            _ = try await outer.create(try Key("/ns/b"), value: bytes("out"), mode: .persistent)
            _ = try await outer.create(try Key("/elsewhere"), value: [], mode: .persistent)
            try expectEqual(try await inner.get(try Key("/b"))?.value, bytes("out"), "value of /b inside /ns")
            try expectEqual(try await inner.children(of: .root), ["b"], "children of / inside /ns")
        },
        ConformanceCheck("namespace-sibling-prefix-invisible", clause: 10, "A handle under /app cannot see or touch /app2/... keys: children of / exclude them, get is nil, and its writes land under /app only.") { ctx in
            let outer = try await ctx.open()
            _ = try await outer.create(try Key("/app2/secret"), value: bytes("secret"), mode: .persistent)
            _ = try await outer.create(try Key("/app-x"), value: [], mode: .persistent)
            let app = try await ctx.open(try Key("/app"))
            try expectEqual(try await app.children(of: .root), [], "children of / under /app")
            try expect(try await app.get(try Key("/secret")) == nil, "/secret must not be visible under /app")
            try expect(try await app.get(try Key("/2/secret")) == nil, "/2/secret must not be visible under /app")
            try expectEqual(try await app.records(under: .root), [], "walk of / under /app")
            try await expectThrows(code: .noNode, "set of /app2's key through /app") { try await app.set(try Key("/secret"), value: [], ifVersion: nil) }
            _ = try await app.create(try Key("/2/secret"), value: bytes("mine"), mode: .persistent)
            try expectEqual(try await outer.get(try Key("/app2/secret"))?.value, bytes("secret"), "/app2/secret must be untouched")
            try expectEqual(try await outer.get(try Key("/app/2/secret"))?.value, bytes("mine"), "the write must land under /app")
        },
        ConformanceCheck("namespace-percent-encoded-stays-inside", clause: 10, "Keys such as /%2e%2e/x, /..%2f/x and /%2F are literal segments that stay inside the namespace (seen from the parent at /ns/%2e%2e/x).") { ctx in
            let inner = try await ctx.open(try Key("/ns"))
            let outer = try await ctx.open()
            for path in ["/%2e%2e/x", "/..%2f/x", "/%2F", "/%2e", "/...", "/..a/x", "/ .. "] {
                _ = try await inner.create(try Key(path), value: bytes(path), mode: .persistent)
                try expectEqual(try await outer.get(try Key("/ns" + path))?.value, bytes(path), "\(path) seen from the parent at /ns\(path)")
            }
            try expectEqual(try await outer.children(of: .root), ["ns"], "children of the parent: nothing escaped")
        },
        ConformanceCheck("namespace-escape-keys-unconstructible", clause: 10, "Keys that could escape a namespace ('..', '.', '//', relative) cannot be constructed: invalidKey.") { _ in
            for path in ["/..", "/../x", "/a/../../x", "//x", "/a//..", "../x", "/./x", "x/../y"] {
                try expectThrowsNow(code: .invalidKey, "Key(\(path.debugDescription))") { try Key(path) }
            }
            try expectThrowsNow(code: .invalidKey, "child(\"..\")") { try Key.root.child("..") }
            try expectThrowsNow(code: .invalidKey, "child(\"a/b\")") { try Key.root.child("a/b") }
        },
        ConformanceCheck("namespace-watch-relative-keys", clause: 10, "A subtree watch in a namespace reports namespace-relative keys, in its snapshot and its events, and nothing outside it.") { ctx in
            let inner = try await ctx.open(try Key("/ns"))
            let outer = try await ctx.open()
            _ = try await inner.create(try Key("/before"), value: [], mode: .persistent)
            let watch = ctx.watch(inner, .root, scope: .subtree)
            try expectEqual(try await watch.snapshot().map(\.key), [try Key("/before")], "snapshot keys")
            _ = try await outer.create(try Key("/outside"), value: [], mode: .persistent)
            _ = try await outer.create(try Key("/ns2/x"), value: [], mode: .persistent)
            _ = try await outer.create(try Key("/ns/after"), value: [], mode: .persistent)
            let expected = try Set([Key("/before"), Key("/after")])
            try await watch.until("/after, relative to the namespace", inspect: { _, state in
                for key in state.keys where !expected.contains(key) { throw failure("the namespaced watch reported \(key)") }
            }) { Set($0.keys) == expected }
        },
        ConformanceCheck("namespace-walk-relative-keys", clause: 10, "walk in a namespace yields namespace-relative keys and nothing of a sibling namespace.") { ctx in
            let outer = try await ctx.open()
            for path in ["/ns/a/b", "/ns2/c", "/nsx"] { _ = try await outer.create(try Key(path), value: [], mode: .persistent) }
            let inner = try await ctx.open(try Key("/ns"))
            try expectEqual(try await inner.records(under: .root).map(\.key), try ["/a", "/a/b"].map(Key.init), "walk of / in /ns")
        },
        ConformanceCheck("namespace-recursive-delete-spares-sibling", clause: 10, "Recursively deleting / in /app leaves /app2 and /app-x untouched.") { ctx in
            let outer = try await ctx.open()
            for path in ["/app/a/b", "/app2/c", "/app-x"] { _ = try await outer.create(try Key(path), value: [], mode: .persistent) }
            let app = try await ctx.open(try Key("/app"))
            try await app.delete(.root, ifVersion: nil, recursive: true)
            try expectEqual(try await app.children(of: .root), [], "children of / in /app")
            try expect(try await outer.exists(try Key("/app2/c")), "/app2/c must survive")
            try expect(try await outer.exists(try Key("/app-x")), "/app-x must survive")
        },
        ConformanceCheck("namespace-nested-agree", clause: 10, "Handles under /a and /a/b see the same data: /b/k in one is /k in the other, both ways.") { ctx in
            let upper = try await ctx.open(try Key("/a"))
            let lower = try await ctx.open(try Key("/a/b"))
            _ = try await upper.create(try Key("/b/k"), value: bytes("from-upper"), mode: .persistent)
            try expectEqual(try await lower.get(try Key("/k"))?.value, bytes("from-upper"), "/k under /a/b")
            _ = try await lower.set(try Key("/k"), value: bytes("from-lower"), ifVersion: 0)
            let record = try require(try await upper.get(try Key("/b/k")), "/b/k under /a")
            try expectEqual(record.value, bytes("from-lower"), "value under /a")
            try expectEqual(record.version, 1, "version under /a")
        },
        ConformanceCheck("namespace-transaction-relative", clause: 10, "A transaction in a namespace applies inside it and returns namespace-relative records; a failure names the relative key.") { ctx in
            let inner = try await ctx.open(try Key("/ns"))
            let outer = try await ctx.open()
            let results = try await inner.transaction([.create(try Key("/t"), value: bytes("v"), mode: .persistent)])
            try expectEqual(results.first?.createdRecord?.key, try Key("/t"), "key of the created record")
            try expectEqual(try await outer.get(try Key("/ns/t"))?.value, bytes("v"), "/ns/t from the parent")
            try expect(try await outer.get(try Key("/t")) == nil, "nothing at /t outside the namespace")
        },
        ConformanceCheck("namespace-ephemeral-and-sequential-inside", clause: 10, "Ephemeral and sequential keys made in a namespace live inside it and vanish with the session from the parent's view too.") { ctx in
            let inner = try await ctx.open(try Key("/ns"))
            let outer = try await ctx.open()
            let record = try await inner.create(try Key("/q/e-"), value: [], mode: .ephemeralSequential)
            let outside = try Key("/ns").appending(record.key)
            try expect(try await outer.get(outside)?.isEphemeral == true, "\(outside) must exist and be ephemeral")
            let watch = ctx.watch(outer, outside)
            _ = try await watch.snapshot()
            await inner.close()
            try await watch.until("\(outside) to vanish after close") { $0[outside] == nil }
        },
    ]
}
