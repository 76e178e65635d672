import Coordination
@testable import CoordinationEtcd
import Testing

/// The reordering of one revision's events, apart from a server: the conformance check
/// `watch-subtree-tree-order` shows it on a real etcd.
@Suite struct WatchEventOrderTests {
    func deletes(_ paths: [String]) throws -> [WatchEvent] { try paths.map { .delete(try Key($0)) } }

    @Test func aRecursiveDeleteInKeyOrderComesOutChildrenFirst() throws {
        // What etcd reports for one txn deleting /b and the range beneath it.
        let etcd = try deletes(["/b", "/b/a", "/b/c", "/b/c-x", "/b/c/d", "/b/c/d/e"])
        #expect(WatchEventOrder.childrenFirst(etcd) == (try deletes(["/b/c-x", "/b/c/d/e", "/b/c/d", "/b/c", "/b/a", "/b"])))
    }

    @Test func unrelatedDeletesAndPutsKeepTheTransactionsOrder() throws {
        let put = WatchEvent.put(Record(key: try Key("/z/new"), value: [], version: 0, createRevision: 9, modRevision: 9, isEphemeral: false))
        let events = try [put] + deletes(["/m", "/a"]) + [put]
        #expect(WatchEventOrder.childrenFirst(events) == events)
        // Two deleted subtrees stay in the order their first keys came, each children first.
        let two = try deletes(["/m", "/a", "/m/x", "/a/y"])
        #expect(WatchEventOrder.childrenFirst(two) == (try deletes(["/m/x", "/m", "/a/y", "/a"])))
    }
}
