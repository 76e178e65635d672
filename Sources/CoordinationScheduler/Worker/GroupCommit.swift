import Coordination
import Synchronization

/// Commits independent transactions of one worker together, as one store transaction, when they
/// arrive while an earlier one is still on its way (group commit).
///
/// On etcd each request, and each watch message it causes at every worker, costs the server far
/// more than one more operation inside a request (measured through the gateway with four
/// watchers: about 1.2 ms of server CPU per single put, 0.3 ms per put inside ten-put
/// transactions). A worker running four short runs sent eight transactions per round (a claim and
/// an end each); merged, they go as two to four, and the claims bench on etcd gains about 12%.
///
/// Each caller's transaction stays all-or-nothing and gets exactly the results (or the error) it
/// would have got alone, because only transactions that cannot affect one another are merged:
/// different `domain`s (the scheduler passes the job, so two runs of one job never share a
/// claim's revision, their fencing token), and no key of one equal to, above or below a key of
/// the other (a create's parent, a delete's children). When the merged transaction fails:
/// - at an operation: that operation's owner gets the error (its index rebased to its own
///   transaction), the others were not applied and are committed again without it;
/// - with an outcome that is unknown or a store that is unusable (contact lost, timed out,
///   session expired, unavailable, refused credentials): every caller gets that error, as each
///   would have alone; nothing is sent again, since what may have been applied must not be
///   applied twice;
/// - any other way: each transaction is committed again on its own.
///
/// A transaction arriving while none is on its way is sent at once, so nothing waits when the
/// worker is not busy. Callers are not cancelled out of a commit: like a store transaction, once
/// submitted it runs to its answer.
final class GroupCommit: Sendable {
    /// Commits on their way at once. With two, most transactions of a busy worker still went
    /// alone (measured); one keeps a worker's writes in order of arrival and merges them.
    static let maxInFlight = 1
    /// Most transactions merged into one, and most operations and bytes in it (under the
    /// contract's limits, so a merge never fails for its size).
    static let maxMerged = 8
    static let maxOperations = CoordinationLimits.maxTransactionOperations
    static let maxBytes = CoordinationLimits.maxTransactionBytes / 2

    private let store: any CoordinationStore
    /// Told how many transactions wait, each time one starts waiting (for tests).
    private let onWait: (@Sendable (Int) -> Void)?

    private final class Request: Sendable {
        let operations: [Operation]
        let domain: String
        /// Keys whose neighbourhood the transaction depends on.
        let footprint: [Key]
        let bytes: Int
        let answer = Mutex<CheckedContinuation<Turn, Never>?>(nil)

        init(_ operations: [Operation], domain: String) {
            self.operations = operations
            self.domain = domain
            // A sequential create's key is a prefix; the key created is its sibling.
            self.footprint = operations.map { operation in
                if case .create(let key, _, let mode) = operation, mode.isSequential { key.parent ?? key } else { operation.key }
            }
            self.bytes = operations.reduce(0) { $0 + $1.key.path.utf8.count + ($1.value?.count ?? 0) }
        }

        func independent(of other: Request) -> Bool {
            domain != other.domain
                && footprint.allSatisfy { key in other.footprint.allSatisfy { !key.isUnder($0) && !$0.isUnder(key) } }
        }
    }

    /// What a waiting caller is woken with.
    private enum Turn: Sendable {
        case answered(Result<[OperationResult], any Error>)
        /// A commit slot is free: commit your transaction (and whatever can join it) yourself.
        case commit
    }

    private struct State {
        var inFlight = 0
        var waiting: [Request] = []
    }
    private let state = Mutex(State())

    init(store: any CoordinationStore, onWait: (@Sendable (Int) -> Void)? = nil) {
        self.store = store
        self.onWait = onWait
    }

    /// Applies `operations` all or nothing, as `store.transaction` does, possibly merged with other
    /// callers' transactions of other domains.
    func transaction(_ operations: [Operation], domain: String) async throws -> [OperationResult] {
        let request = Request(operations, domain: domain)
        let turn: Turn = await withCheckedContinuation { continuation in
            let waiting = state.withLock { state -> Int? in
                if state.inFlight < Self.maxInFlight {
                    state.inFlight += 1
                    return nil
                }
                request.answer.withLock { $0 = continuation }
                state.waiting.append(request)
                return state.waiting.count
            }
            if let waiting { onWait?(waiting) } else { continuation.resume(returning: .commit) }
        }
        switch turn {
        case .answered(let result):
            return try result.get()
        case .commit:
            let result = await commit(leading: request)
            handOver()
            return try result.get()
        }
    }

    /// Commits `request` with as many waiting requests as can join it; answers those, and
    /// returns the leader's own result.
    private func commit(leading request: Request) async -> Result<[OperationResult], any Error> {
        var batch = [request]
        state.withLock { state in
            var operations = request.operations.count
            var bytes = request.bytes
            var index = 0
            while index < state.waiting.count && batch.count < Self.maxMerged {
                let candidate = state.waiting[index]
                if operations + candidate.operations.count <= Self.maxOperations, bytes + candidate.bytes <= Self.maxBytes,
                    batch.allSatisfy({ candidate.independent(of: $0) })
                {
                    batch.append(candidate)
                    operations += candidate.operations.count
                    bytes += candidate.bytes
                    state.waiting.remove(at: index)
                } else {
                    index += 1
                }
            }
        }
        var own: Result<[OperationResult], any Error>?
        // Not cancelled with the leading caller: the others' transactions ride in the same
        // request, and cutting it short would leave their outcome unknown.
        let store = store
        let results = await Task { [batch] in await Self.apply(batch, to: store) }.value
        for (member, result) in results {
            if member === request {
                own = result
            } else {
                member.answer.withLock { $0.take() }?.resume(returning: .answered(result))
            }
        }
        return own!
    }

    /// Frees this caller's commit slot, passing it to the longest-waiting request if any.
    private func handOver() {
        let next = state.withLock { state -> Request? in
            guard !state.waiting.isEmpty else {
                state.inFlight -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.answer.withLock { $0.take() }?.resume(returning: .commit)
    }

    /// Each request's result: merged while that is sound, as described on the type.
    private static func apply(_ batch: [Request], to store: any CoordinationStore) async -> [(Request, Result<[OperationResult], any Error>)] {
        var pending = batch
        var answered: [(Request, Result<[OperationResult], any Error>)] = []
        while !pending.isEmpty {
            if pending.count == 1 {
                let only = pending[0]
                answered.append((only, await outcome { try await store.transaction(only.operations) }))
                return answered
            }
            do {
                var results = try await store.transaction(pending.flatMap(\.operations))[...]
                for member in pending {
                    answered.append((member, .success(Array(results.prefix(member.operations.count)))))
                    results = results.dropFirst(member.operations.count)
                }
                return answered
            } catch let error as CoordinationError {
                if Self.sharedFailures.contains(error.code) {
                    // ZooKeeper's C client copies a time-out into every operation's result, so an
                    // index here names no culprit: each gets the error as it would alone.
                    return answered + pending.map { member in
                        (member, .failure(error.failedOperation == nil ? error : error.rebased(to: 0, of: member.operations.count)))
                    }
                } else if let index = error.failedOperation, let (owner, local) = Self.locate(index, in: pending) {
                    answered.append((pending[owner], .failure(error.rebased(to: local, of: pending[owner].operations.count))))
                    pending.remove(at: owner)
                } else {
                    for member in pending {
                        answered.append((member, await outcome { try await store.transaction(member.operations) }))
                    }
                    return answered
                }
            } catch {
                return answered + pending.map { ($0, .failure(error)) }
            }
        }
        return answered
    }

    /// Failures that say nothing about any one operation: each caller would have had the same.
    static let sharedFailures: Set<CoordinationError.Code> = [
        .connectionLoss, .timeout, .sessionExpired, .unavailable, .unauthenticated,
    ]

    /// Which request operation `index` of the merged transaction belongs to, and its index there.
    private static func locate(_ index: Int, in batch: [Request]) -> (Int, Int)? {
        var start = 0
        for (position, member) in batch.enumerated() {
            if index < start + member.operations.count { return (position, index - start) }
            start += member.operations.count
        }
        return nil
    }
}

private func outcome<Success>(_ body: () async throws -> Success) async -> Result<Success, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}
