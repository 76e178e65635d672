import Coordination
@testable import CoordinationEtcd
import Testing

/// Every transaction within the portable limit of 64 operations fits one etcd txn (at most 128
/// compares): etcd refused these two with "too many operations in txn request", which the store
/// reported as `transactionTooLarge` although the other backends take them.
extension EtcdStoreTests {
    /// In a namespace, a sequential create directly beneath it and 63 beneath distinct parents:
    /// the namespace's own counter could not be folded with the others.
    @Test func sequentialCreatesBeneathTheNamespaceAnd63ParentsFitOneTxn() async throws {
        try await withStore { store, _ in
            var operations: [Operation] = [.create(try Key("/s-"), value: [], mode: .sequential)]
            for index in 1...63 {
                _ = try await store.create(try Key("/p\(index)"), value: [], mode: .persistent)
                operations.append(.create(try Key("/p\(index)/s-"), value: [], mode: .sequential))
            }
            try await expectAllCreated(store, operations)
        }
    }

    /// 64 sequential creates whose prefix is also a plain key: the prefixes were read and compared.
    @Test func sequentialCreatesWhosePrefixIsAKeyFitOneTxn() async throws {
        try await withStore { store, _ in
            var operations: [Operation] = []
            for index in 1...64 {
                let prefix = try Key("/q\(index)/s-")
                _ = try await store.create(prefix, value: [1], mode: .persistent)
                operations.append(.create(prefix, value: [], mode: .sequential))
            }
            try await expectAllCreated(store, operations)
            #expect(try await store.get(try Key("/q1/s-"))?.value == [1], "the prefix's own key is untouched")
        }
    }

    private func expectAllCreated(_ store: EtcdStore, _ operations: [Operation]) async throws {
        let results = try await store.transaction(operations)
        #expect(results.count == operations.count)
        for (operation, result) in zip(operations, results) {
            guard case .created(let record) = result else {
                Issue.record("\(operation.summary) gave \(result)")
                continue
            }
            #expect(record.key.path == operation.key.path + "0000000000", "the first sequential key under its parent")
            #expect(try await store.get(record.key) == record)
        }
    }
}
