import Coordination
@testable import CoordinationEtcd
import Testing

/// Transactions with sequential creates where keys with the next sequential names exist but the
/// counter does not know them (copied in by a migration, written by another tool): the names skip
/// past them, promptly, and the counter learns where they ended.
extension EtcdStoreTests {
    /// ``counted(_:_:)`` in a task of its own, waited for at most 20 s: a transaction that never
    /// returns fails the test instead of hanging the run (closing the store ends it).
    private func boundedCount(
        _ store: EtcdStore, _ operations: [Operation]
    ) async throws -> (Result<[OperationResult], CoordinationError>, requests: Int) {
        let (outcomes, continuation) = AsyncStream.makeStream(of: (Result<[OperationResult], CoordinationError>, requests: Int).self)
        Task {
            continuation.yield(await counted(store, operations))
            continuation.finish()
        }
        var iterator = outcomes.makeAsyncIterator()
        return try await next(&iterator, "the transaction to return", timeout: .seconds(20))
    }

    private func names(_ outcome: Result<[OperationResult], CoordinationError>) throws -> [String] {
        try outcome.get().compactMap(record).map(\.key.name)
    }

    private func counter(_ namespace: Key, of parent: String) async throws -> String? {
        try await admin.get(String(decoding: KeySpace.counterBase, as: UTF8.self) + namespace.path + parent)
            .map { String(decoding: $0.value, as: UTF8.self) }
    }

    @Test func sequentialTransactionSkipsKeysTheCounterDoesNotKnow() async throws {
        try await withStore { store, namespace in
            let prefix = try Key("/q/item-")
            for number: Int64 in [0, 1] {
                _ = try await store.create(try Key(prefix.path + Key.sequenceSuffix(number)), value: [1], mode: .persistent)
            }
            #expect(try await counter(namespace, of: "/q") == nil, "plain creates leave the counter alone")
            let (first, _) = try await boundedCount(store, [
                .create(prefix, value: [], mode: .sequential), .create(prefix, value: [], mode: .sequential),
            ])
            #expect(try names(first) == ["item-0000000002", "item-0000000003"])
            #expect(try await counter(namespace, of: "/q") == "4", "the counter now knows the skipped names")
            let (next, requests) = try await boundedCount(store, [.create(prefix, value: [], mode: .sequential)])
            #expect(try names(next) == ["item-0000000004"])
            #expect(requests == 1, "the counter written after the skip is the next guess")
            #expect(try await store.children(of: try Key("/q")).count == 5)
        }
    }

    @Test func ephemeralSequentialTransactionSkipsForeignKeysUnderEachPrefix() async throws {
        try await withStore { store, namespace in
            let lock = try Key("/locks/lock-")
            let other = try Key("/locks/other-")
            let known = try await store.create(lock, value: [], mode: .ephemeralSequential)
            #expect(known.key.name == "lock-0000000000")
            // Written by another tool with plain puts: the counter (at 1) knows neither.
            for name in ["lock-0000000001", "other-0000000003"] {
                _ = try await admin.put(namespace.path + "/locks/" + name, [2])
            }
            let (first, _) = try await boundedCount(store, [
                .create(lock, value: [], mode: .ephemeralSequential), .create(other, value: [], mode: .ephemeralSequential),
            ])
            let created = try first.get().compactMap(record)
            #expect(created.map(\.key.name) == ["lock-0000000004", "other-0000000005"], "past each prefix's foreign key, in order")
            #expect(created.allSatisfy { $0.isEphemeral })
            for record in created { #expect(try await store.get(record.key) == record) }
            let (next, requests) = try await boundedCount(store, [.create(lock, value: [], mode: .ephemeralSequential)])
            #expect(try names(next) == ["lock-0000000006"] && requests == 1)
        }
    }

    @Test func sequentialNameReadInTheSameTransactionIsSkipped() async throws {
        try await withStore { store, _ in
            let taken = try await store.create(try Key("/q/item-0000000000"), value: [], mode: .persistent)
            let (outcome, _) = try await boundedCount(store, [
                .check(taken.key, version: 0), .create(try Key("/q/item-"), value: [], mode: .sequential),
            ])
            #expect(try names(outcome) == ["item-0000000001"], "a name the transaction read as taken is not refused")
        }
    }
}
