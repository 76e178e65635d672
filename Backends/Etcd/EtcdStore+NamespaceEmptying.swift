import Coordination

extension EtcdStore {
    /// How many keys one page of the namespace's listing holds while it is emptied.
    static let emptyingPage = 1_000

    /// Empties the namespace (the root's recursive delete), in the order every backend deletes a
    /// tree: each top-level key's subtree after the next one's in byte order. One range delete of
    /// the whole namespace is reported in byte order: a subtree watch of the root saw `/a`'s
    /// subtree go first on etcd, and `/c`'s first on the other backends. The top-level names are
    /// found by listing keys only, a page at a time, skipping each subtree once its name is known;
    /// each txn then deletes a share of them, every key and the range beneath it, and a last one
    /// what is left (keys made meanwhile) with the sequence counters.
    func deleteNamespaceContents() async throws {
        let (start, end) = keys.subtree(.root)
        let slash = UInt8(ascii: "/")
        var tops: Set<[UInt8]> = []
        var cursor = start
        while true {
            let page = try await read([EtcdRequest.range(cursor, end: end, keysOnly: true, limit: Self.emptyingPage)]).range(0)
            guard let last = page.last?.key else { break }
            for kv in page { tops.insert(Array(kv.key[start.count...].prefix { $0 != slash })) }
            // Past the last key's top-level subtree, whose keys go with that name.
            let subtree = start + Array(last[start.count...].prefix { $0 != slash }) + [slash]
            cursor = last.starts(with: subtree) ? KeySpace.prefixEnd(subtree) : last + [0]
            if page.count < Self.emptyingPage { break }
        }
        // Two deletes per name: within etcd's default of 128 operations per txn.
        let ordered = tops.sorted { $1.lexicographicallyPrecedes($0) }
        let perTxn = EtcdRequest.maxOperationsPerBranch / 2
        for first in stride(from: 0, to: ordered.count, by: perTxn) {
            let deletes = ordered[first..<min(first + perTxn, ordered.count)].flatMap { name -> [JSONValue] in
                let top = start + name
                return [
                    ["request_delete_range": EtcdRequest.deleteRange(top)],
                    ["request_delete_range": EtcdRequest.deleteRange(top + [slash], end: KeySpace.prefixEnd(top + [slash]))],
                ]
            }
            _ = try await txn(EtcdRequest.txn(compare: [], success: deletes), kind: .write)
        }
        let (countersStart, countersEnd) = keys.counters(beneath: .root)
        _ = try await txn(EtcdRequest.txn(compare: [], success: [
            ["request_delete_range": EtcdRequest.deleteRange(start, end: end)],
            ["request_delete_range": EtcdRequest.deleteRange(countersStart, end: countersEnd)],
            keys.counterDeletion(of: .root),
        ]), kind: .write)
    }
}
