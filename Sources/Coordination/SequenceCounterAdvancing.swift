/// A store that can move the counter behind a parent's sequential keys forward in one write.
///
/// Every backend numbers sequential keys from a counter of its own (clause 6), which the contract
/// exposes nowhere, so the portable way to move one is to spend numbers: one sequential create
/// (and delete) each. A tool that copies sequentially named keys into a store, such as a
/// migration, must move the counter past them, or new sequential keys would sort before the
/// copies; where the gap is millions of numbers (a queue that ran for years, or a name that only
/// looks sequential, like `login-1700000000`), spending them takes hours. On etcd and the
/// embedded store the counter is a number the store keeps, and this moves it with one write
/// whatever the gap. ZooKeeper's is the parent's `cversion`, which only creating and deleting
/// children moves: it does not conform.
public protocol SequenceCounterAdvancing: CoordinationStore {
    /// Makes the next sequential key created under `parent` get a number above `number`, and
    /// leaves a counter that is already past it alone.
    /// - Returns: whether the counter moved.
    /// - Throws: `noNode` when `parent` does not exist; `invalidKey` when `number` is the largest
    ///   10-digit number, which no sequential number follows.
    func advanceSequenceCounter(under parent: Key, past number: Int64) async throws -> Bool
}

extension CoordinationLimits {
    /// The largest sequential number: 10 digits.
    public static let maxSequenceNumber: Int64 = 9_999_999_999

    /// Refuses a number no sequential number can follow (``SequenceCounterAdvancing``).
    public static func validate(sequenceNumberToPass number: Int64, under parent: Key) throws(CoordinationError) {
        guard number < maxSequenceNumber else {
            throw CoordinationError(
                .invalidKey, "no sequential number under \(parent) can follow \(number): sequential numbers have \(sequenceDigits) digits")
        }
    }
}
