import Coordination

/// What coord says of keys beneath names that are no keys (``UnwrittenParentListing``: on etcd,
/// keys another tool wrote without their parents). `kv ls` does not list such a name, and `kv
/// get`, `kv ls` and `kv tree` of it call it missing: `coord kv ls /services` said "no such key"
/// and nothing more, with /services/api/host in etcd, which `coord kv tree /` showed.
enum UnwrittenParentNote {
    /// The names directly beneath `key` that lead to keys, as keys: those that are keys and those
    /// that are not; none on a store that cannot hold keys beneath a name that is no key, or when
    /// asking fails (the note is no reason to fail the command).
    private static func beneath(_ key: Key, in store: any CoordinationStore) async -> (keys: [Key], unwritten: [Key]) {
        guard let listing = store as? any UnwrittenParentListing, let names = try? await listing.namesBeneath(key) else { return ([], []) }
        return (names.keys.compactMap { try? key.child($0) }, names.unwritten.compactMap { try? key.child($0) })
    }

    /// What `kv ls` of `key` says on stderr after its listing when such names lie beneath it.
    static func afterListing(_ key: Key, in store: any CoordinationStore) async {
        let paths = await beneath(key, in: store).unwritten
        guard !paths.isEmpty else { return }
        StandardStreams.writeError(
            "coord: note: not listed, as no key has \(paths.count == 1 ? "this name" : "these names"), though keys lie beneath "
                + "\(paths.count == 1 ? "it" : "them") (another tool wrote them without their parents, which etcd allows): "
                + "\(shown(paths)); \(howToSee)")
    }

    /// No such key `key`, saying so of the keys at or beneath the names under it when there are some.
    static func missing(_ key: Key, in store: any CoordinationStore) async -> CoordinationError {
        var error = CoordinationError.noNode(key)
        let (keys, unwritten) = await beneath(key, in: store)
        let paths = (keys + unwritten).sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        if !paths.isEmpty {
            error.message += ", though keys lie beneath it (another tool wrote them without it, which etcd allows), at or under \(shown(paths)): \(howToSee)"
        }
        return error
    }

    private static let howToSee = "coord kv tree / shows them, and coord kv get reads each"

    /// The first few paths, then how many more.
    private static func shown(_ paths: [Key], limit: Int = 5) -> String {
        let listed = paths.prefix(limit).map(\.path).joined(separator: ", ")
        return paths.count > limit ? "\(listed) and \(paths.count - limit) more" : listed
    }
}
