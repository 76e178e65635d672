import Coordination
import CoordinationTestSupport
import Synchronization
import Testing

@testable import CoordinationScheduler

/// The worker's group commit, on every backend: transactions merged into one store transaction
/// must each come out exactly as they would alone.
@Suite(.serverLoadLimit) struct GroupCommitTests {
    /// Three transactions queued behind a held one go to the store as one, and each caller gets
    /// its own results in its own order.
    @Test(arguments: TestBackend.all)
    func independentTransactionsShareOneStoreTransaction(backend: TestBackend) async throws {
        let (store, held, commits, queued) = try await Self.setUp(backend)
        defer { Task { await backend.discard(store) } }
        for index in 1...3 {
            for name in ["/set-\(index)", "/check-\(index)"] { _ = try await store.create(try Key(name), value: [], mode: .persistent) }
        }
        let first = Task { try await commits.transaction([.create(try Key("/first"), value: [0], mode: .persistent)], domain: "first") }
        try await held.waitForHeldTransaction()
        let tasks = try (1...3).map { index in
            let (key, set, check) = (try Key("/job-\(index)"), try Key("/set-\(index)"), try Key("/check-\(index)"))
            return Task {
                try await commits.transaction(
                    [.create(key, value: [UInt8(index)], mode: .persistent), .set(set, value: [9], ifVersion: 0), .check(check, version: 0)],
                    domain: "job-\(index)")
            }
        }
        try await queued.wait(for: 3)
        held.release()
        _ = try await first.value
        for (index, task) in tasks.enumerated() {
            let results = try await task.value
            #expect(results.count == 3)
            guard case .created(let created) = results[0], case .set(let updated) = results[1], case .checked = results[2] else {
                Issue.record("job-\(index + 1): results out of order: \(results)")
                continue
            }
            #expect(created.key.path == "/job-\(index + 1)" && created.value == [UInt8(index + 1)])
            #expect(updated.key.path == "/set-\(index + 1)" && updated.version == 1 && updated.value == [9])
        }
        #expect(held.sizes == [1, 9], "the three waiting transactions went as one")
    }

    /// When one merged transaction's check fails, only its caller hears of it (at its own index);
    /// the others are applied without it, and nothing of the failed one is.
    @Test(arguments: TestBackend.all)
    func aRefusedTransactionFailsOnlyItsCaller(backend: TestBackend) async throws {
        let (store, held, commits, queued) = try await Self.setUp(backend)
        defer { Task { await backend.discard(store) } }
        _ = try await store.create(try Key("/fence"), value: [], mode: .persistent)
        let first = Task { try await commits.transaction([.check(try Key("/fence"), version: 0)], domain: "first") }
        try await held.waitForHeldTransaction()
        let before = Task { try await commits.transaction([.create(try Key("/a"), value: [1], mode: .persistent)], domain: "a") }
        try await queued.wait(for: 1)
        let refused = Task {
            try await commits.transaction(
                [.create(try Key("/b"), value: [2], mode: .persistent), .check(try Key("/fence"), version: 7)], domain: "b")
        }
        try await queued.wait(for: 2)
        let after = Task { try await commits.transaction([.create(try Key("/c"), value: [3], mode: .persistent)], domain: "c") }
        try await queued.wait(for: 3)
        held.release()
        _ = try await first.value
        _ = try await before.value
        _ = try await after.value
        await #expect {
            try await refused.value
        } throws: { error in
            let error = error as? CoordinationError
            return error?.code == .versionConflict && error?.failedOperation == 1
                && error?.message.hasPrefix("transaction operation 2 of 2 failed") == true
        }
        #expect(try await store.get(try Key("/a"))?.value == [1])
        #expect(try await store.get(try Key("/c"))?.value == [3])
        #expect(try await store.get(try Key("/b")) == nil, "the refused transaction left nothing")
        #expect(held.sizes == [1, 4, 2], "merged, refused at the fence, then the two others merged again")
    }

    /// Transactions of one domain, or touching related keys (a parent and its child), are never
    /// merged: each would see the other's effect. Unrelated ones of other domains are.
    @Test(arguments: TestBackend.all)
    func relatedTransactionsAreNotMerged(backend: TestBackend) async throws {
        let (store, held, commits, queued) = try await Self.setUp(backend)
        defer { Task { await backend.discard(store) } }
        let first = Task { try await commits.transaction([.create(try Key("/first"), value: [], mode: .persistent)], domain: "first") }
        try await held.waitForHeldTransaction()
        let parent = Task { try await commits.transaction([.create(try Key("/p"), value: [], mode: .persistent)], domain: "x") }
        try await queued.wait(for: 1)
        let child = Task { try await commits.transaction([.create(try Key("/p/c"), value: [], mode: .persistent)], domain: "y") }
        try await queued.wait(for: 2)
        let sameDomain = Task { try await commits.transaction([.create(try Key("/q"), value: [], mode: .persistent)], domain: "x") }
        try await queued.wait(for: 3)
        held.release()
        for task in [first, parent, child, sameDomain] { _ = try await task.value }
        // /p alone (its child and its domain wait), then /p/c with /q.
        #expect(held.sizes == [1, 1, 2])
        #expect(try await store.exists(try Key("/p/c")))
    }

    /// A merged transaction whose reply is lost: every caller learns that its outcome is unknown,
    /// and it is not sent again (it was applied; sending it again would apply it twice).
    @Test(arguments: TestBackend.all)
    func anUnknownOutcomeReachesEveryCallerOnce(backend: TestBackend) async throws {
        let (store, held, _, _) = try await Self.setUp(backend)
        defer { Task { await backend.discard(store) } }
        let queued = WaitingCount()
        let lossy = FaultyTransactionStore(held, .replyLost, count: 1) { $0.count > 1 }
        let commits = GroupCommit(store: lossy) { queued.note($0) }
        let first = Task { try await commits.transaction([.create(try Key("/first"), value: [], mode: .persistent)], domain: "first") }
        try await held.waitForHeldTransaction()
        let tasks = try (1...2).map { index in
            let key = try Key("/job-\(index)")
            return Task { try await commits.transaction([.create(key, value: [], mode: .persistent)], domain: "job-\(index)") }
        }
        try await queued.wait(for: 2)
        held.release()
        _ = try await first.value
        for task in tasks {
            await #expect { try await task.value } throws: { ($0 as? CoordinationError)?.code == .connectionLoss }
        }
        #expect(held.sizes == [1, 2], "sent once")
        #expect(try await store.exists(try Key("/job-1")), "applied")
        #expect(try await store.exists(try Key("/job-2")), "applied")
    }

    /// A merged transaction refused as a whole, naming no operation and changing nothing (here
    /// a permission error): each transaction is sent again on its own and gets its own answer.
    @Test(arguments: TestBackend.all)
    func aWholesaleRefusalSendsEachAlone(backend: TestBackend) async throws {
        let (store, held, _, _) = try await Self.setUp(backend)
        defer { Task { await backend.discard(store) } }
        let queued = WaitingCount()
        let commits = GroupCommit(store: RefusingMerged(base: held)) { queued.note($0) }
        let first = Task { try await commits.transaction([.create(try Key("/first"), value: [], mode: .persistent)], domain: "first") }
        try await held.waitForHeldTransaction()
        let tasks = try (1...2).map { index in
            let key = try Key("/job-\(index)")
            return Task { try await commits.transaction([.create(key, value: [UInt8(index)], mode: .persistent)], domain: "job-\(index)") }
        }
        try await queued.wait(for: 2)
        held.release()
        _ = try await first.value
        for (index, task) in tasks.enumerated() {
            guard case .created(let record) = try await task.value.first else { Issue.record("no create result"); continue }
            #expect(record.key.path == "/job-\(index + 1)" && record.value == [UInt8(index + 1)])
        }
        #expect(held.sizes == [1, 1, 1], "the merged one refused before the store, then each alone")
    }

    /// A handle on a fresh namespace (deleted when the test ends), held and counted.
    private static func setUp(_ backend: TestBackend) async throws
        -> (any CoordinationStore, HeldFirstTransaction, GroupCommit, WaitingCount)
    {
        try backend.require()
        let store = try await backend.open(try Key("/group-commit-\(UInt32.random(in: 0...UInt32.max))"), .seconds(10))
        let held = HeldFirstTransaction(store)
        let queued = WaitingCount()
        return (store, held, GroupCommit(store: held) { queued.note($0) }, queued)
    }
}

/// Holds the first transaction until released, so that the next ones queue up behind it; records
/// the size of every transaction that reaches the store.
final class HeldFirstTransaction: ForwardingStore {
    let base: any CoordinationStore
    private let state = Mutex<(sizes: [Int], gate: CheckedContinuation<Void, Never>?, released: Bool)>(([], nil, false))
    private let arrivals: AsyncStream<Void>
    private let arrived: AsyncStream<Void>.Continuation

    init(_ base: any CoordinationStore) {
        self.base = base
        (arrivals, arrived) = AsyncStream.makeStream()
    }

    var sizes: [Int] { state.withLock { $0.sizes } }

    func waitForHeldTransaction() async throws {
        try await withDeadline("the first transaction") { [arrivals] in
            for await _ in arrivals { return }
        }
    }

    func release() {
        state.withLock { state in
            state.released = true
            return state.gate.take()
        }?.resume()
    }

    func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
        let first = state.withLock { state in
            state.sizes.append(operations.count)
            return state.sizes.count == 1
        }
        if first {
            await withCheckedContinuation { continuation in
                let released = state.withLock { state in
                    if !state.released { state.gate = continuation }
                    return state.released
                }
                if released { continuation.resume() }
                arrived.yield()
            }
        }
        return try await base.transaction(operations)
    }
}

/// Refuses every transaction of more than one operation as a whole, before it reaches `base`.
private final class RefusingMerged: ForwardingStore {
    let base: any CoordinationStore
    init(base: any CoordinationStore) { self.base = base }

    func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
        guard operations.count == 1 else { throw CoordinationError(.permissionDenied, "refused as a whole (simulated)") }
        return try await base.transaction(operations)
    }
}

/// The group commit's waiting count, awaited by tests.
final class WaitingCount: Sendable {
    private let counts: AsyncStream<Int>
    private let continuation: AsyncStream<Int>.Continuation

    init() { (counts, continuation) = AsyncStream.makeStream() }

    func note(_ count: Int) { continuation.yield(count) }

    func wait(for count: Int) async throws {
        try await withDeadline("\(count) waiting transactions") { [counts] in
            for await waiting in counts where waiting >= count { return }
        }
    }
}
