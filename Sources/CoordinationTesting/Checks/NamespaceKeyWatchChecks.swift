import Coordination

extension ConformanceSuite {
    /// Clause 10: a handle's namespace is its root, and the root has no record, so its watches
    /// never report the namespace's own key, whatever another handle does to it from outside.
    static let namespaceKeyWatchChecks: [ConformanceCheck] = [
        ConformanceCheck("namespace-key-set-from-outside-unreported-inside", clause: 10, "When the parent handle sets /ns's own value, watches of / in every scope under /ns report no record for / (the root has none): the next thing each sees is /ns/after, created later, as /after.") { ctx in
            let outer = try await ctx.open()
            let inner = try await ctx.open(try Key("/ns"))
            let after = try Key("/after")
            var watches: [(scope: WatchScope, cursor: WatchCursor)] = []
            for scope in WatchScope.allCases where scope != .key {
                let cursor = ctx.watch(inner, .root, scope: scope)
                try expectEqual(try await cursor.snapshot(), [], "the \(scope) watch of /'s snapshot in an empty namespace")
                watches.append((scope, cursor))
            }
            _ = try await outer.set(try Key("/ns"), value: bytes("outside"), ifVersion: nil)
            _ = try await outer.create(try Key("/ns/after"), value: [], mode: .persistent)
            for (scope, cursor) in watches {
                try await cursor.until("/after in the \(scope) watch of /", inspect: { event, state in
                    if case .put(let record) = event, record.key.isRoot {
                        throw failure("the \(scope) watch of / reported a record for / (the namespace's own key): \(record)")
                    }
                    for key in state.keys where key != after { throw failure("the \(scope) watch of / reported \(key)") }
                }) { $0.keys.contains(after) }
            }
        },
    ]
}
