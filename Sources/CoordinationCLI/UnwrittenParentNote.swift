import Coordination

/// What coord says of keys beneath names that are no keys (``UnwrittenParentListing``: on etcd,
/// keys another tool wrote without their parents). `kv ls` does not list such a name, and `kv
/// get`, `kv ls` and `kv tree` of it call it missing: `coord kv ls /services` said "no such key"
/// and nothing more, with /services/api/host in etcd, which `coord kv tree /` showed.
enum UnwrittenParentNote {
    /// `key`'s children for `kv ls`, and the note to print after them (on stderr) of names that
    /// are no keys but have keys beneath them; from one read on a store that can hold such keys.
    /// A missing `key` says what lies beneath it.
    static func listing(_ key: Key, in store: any CoordinationStore) async throws -> (names: [String], note: String?) {
        guard let listing = store as? any UnwrittenParentListing else { return (try await store.children(of: key), nil) }
        let beneath = try await listing.namesBeneath(key)
        guard beneath.keyExists else { throw missing(key, beneath) }
        let paths = beneath.unwritten.compactMap { try? key.child($0) }
        guard !paths.isEmpty else { return (beneath.keys, nil) }
        let note =
            "coord: note: not listed, as no key has \(paths.count == 1 ? "this name" : "these names"), though keys lie beneath "
            + "\(paths.count == 1 ? "it" : "them") (another tool wrote them without their parents, which etcd allows): "
            + "\(shown(paths)); \(howToSee)"
        return (beneath.keys, note)
    }

    /// No such key `key` (`kv get`, `kv tree`), saying what lies beneath it when something does.
    /// Asking cannot fail the command: a store call that fails adds nothing.
    static func missing(_ key: Key, in store: any CoordinationStore) async -> CoordinationError {
        guard let listing = store as? any UnwrittenParentListing, let beneath = try? await listing.namesBeneath(key) else {
            return CoordinationError.noNode(key)
        }
        return missing(key, beneath)
    }

    private static func missing(_ key: Key, _ beneath: NamesBeneath) -> CoordinationError {
        var error = CoordinationError.noNode(key)
        let paths = Key.sortedNames(beneath.keys + beneath.unwritten).compactMap { try? key.child($0) }
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
