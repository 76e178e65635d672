import Coordination

extension ConformanceSuite {
    /// Clause 10: a handle's namespace is its root, which always exists, even once another handle
    /// deleted the namespace's key from outside.
    static let namespaceGoneChecks: [ConformanceCheck] = [
        ConformanceCheck("namespace-deleted-from-outside-reads-as-an-empty-root", clause: 10, "Once the parent handle deletes /ns recursively, the handle under /ns still finds its root: / exists, has no children, walks to nothing, and a recursive delete of / succeeds.") { ctx in
            let outer = try await ctx.open()
            let inner = try await ctx.open(try Key("/ns"))
            _ = try await inner.create(try Key("/a/b"), value: [], mode: .persistent)
            try await outer.delete(try Key("/ns"), ifVersion: nil, recursive: true)
            try expect(try await inner.exists(.root), "/ must exist under a namespace deleted from outside")
            try expectEqual(try await inner.children(of: .root), [], "children of / under a namespace deleted from outside")
            var walked: [Key] = []
            for try await record in inner.walk(.root) { walked.append(record.key) }
            try expectEqual(walked, [], "keys walked from / under a namespace deleted from outside")
            do {
                try await inner.delete(.root, ifVersion: nil, recursive: true)
            } catch {
                throw failure("a recursive delete of / under a namespace deleted from outside must empty it, as it does any namespace: \(error)")
            }
        },
    ]
}
