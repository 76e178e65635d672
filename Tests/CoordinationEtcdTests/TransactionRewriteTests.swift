import Coordination
@testable import CoordinationEtcd
import Testing

/// etcd's listed deviation (a transaction that leaves a key written twice is `unsupported`) names
/// the key's second write, as the conformance check says, however many writes follow it.
extension EtcdStoreTests {
    @Test func aKeyWrittenThreeTimesIsRefusedAtItsSecondWrite() async throws {
        try await withStore { store, _ in
            let key = try Key("/thrice"), witness = try Key("/witness")
            _ = try await store.create(witness, value: [0], mode: .persistent)
            let cases: [(before: Bool, operations: [Operation], second: Int)] = [
                (false, [.create(key, value: [1], mode: .persistent), .set(key, value: [2], ifVersion: 0), .set(key, value: [3], ifVersion: 1)], 1),
                (true, [.set(key, value: [1], ifVersion: 0), .set(key, value: [2], ifVersion: 1), .set(key, value: [3], ifVersion: 2)], 1),
                (true, [.set(key, value: [1], ifVersion: nil), .delete(key, ifVersion: 1), .create(key, value: [2], mode: .persistent), .set(key, value: [3], ifVersion: 0)], 2),
            ]
            for (number, testCase) in cases.enumerated() {
                if testCase.before { _ = try await store.create(key, value: [0], mode: .persistent) }
                let old = try await store.get(key)
                let error = await #expect(throws: CoordinationError.self, "case \(number)") {
                    _ = try await store.transaction(testCase.operations + [.set(witness, value: [9], ifVersion: nil)])
                }
                #expect(error?.code == .unsupported, "case \(number): \(String(describing: error))")
                #expect(error?.failedOperation == testCase.second, "case \(number): \(String(describing: error))")
                #expect(try await store.get(key) == old, "case \(number): nothing applied")
                #expect(try await store.get(witness)?.value == [0], "case \(number): nothing applied")
                if old != nil { try await store.delete(key, ifVersion: nil, recursive: false) }
            }
        }
    }
}
