import Coordination
import CoordinationMemory
import CoordinationTesting
import Testing

/// Tests of the suite itself: its catalogue, its deviation bookkeeping, and that its checks fail
/// on a store that breaks the contract.
@Suite struct ConformanceSuiteTests {
    @Test func checkNamesAreUniqueKebabCaseAndFindable() throws {
        let checks = ConformanceSuite.checks
        #expect(checks.count >= 80)
        #expect(Set(checks.map(\.name)).count == checks.count, "duplicate check names")
        for check in checks {
            #expect(check.name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }, "\(check.name) is not kebab-case")
            #expect(!check.summary.isEmpty)
            #expect(check.description == check.name)
            #expect(ConformanceSuite.check(named: check.name)?.summary == check.summary)
        }
        #expect(ConformanceSuite.check(named: "no-such-check") == nil)
    }

    @Test func everyClauseHasChecks() {
        let clauses = Dictionary(grouping: ConformanceSuite.checks, by: \.clause)
        #expect(Set(clauses.keys) == Set(1...10))
        for clause in 1...10 {
            #expect(clauses[clause, default: []].count >= 3, "clause \(clause) has too few checks")
        }
    }

    @Test func aCheckOfABrokenStoreFails() async throws {
        let check = try #require(ConformanceSuite.check(named: "tree-children-sorted-by-bytes"))
        let suite = ConformanceSuite(harness: UnsortedChildrenHarness(deviations: [:]))
        let failure = await #expect(throws: ConformanceFailure.self) { try await suite.run(check) }
        // Which clause failed, and what the check asserts, without the suite's source at hand.
        let description = failure?.description ?? ""
        #expect(description.hasPrefix("[tree-children-sorted-by-bytes] "), "\(description)")
        #expect(description.hasSuffix("; clause \(check.clause): \(check.summary)"), "\(description)")
    }

    @Test func aListedDeviationThatFailsIsAccepted() async throws {
        let check = try #require(ConformanceSuite.check(named: "tree-children-sorted-by-bytes"))
        let harness = UnsortedChildrenHarness(deviations: [check.name: "this test store lists children in reverse"])
        try await ConformanceSuite(harness: harness).run(check)
    }

    @Test func aListedDeviationThatPassesIsReported() async throws {
        let check = try #require(ConformanceSuite.check(named: "record-exists"))
        let harness = UnsortedChildrenHarness(deviations: [check.name: "wrongly listed"])
        let failure = await #expect(throws: ConformanceFailure.self) { try await ConformanceSuite(harness: harness).run(check) }
        #expect(failure?.message.contains("remove it from the list") == true)
        #expect(failure?.check == check.name)
    }

    @Test func runAllPassesOnMemoryAndLeavesNothingBehind() async throws {
        let harness = MemoryHarness()
        try await ConformanceSuite(harness: harness).runAll()
        let root = try await harness.openStore(namespace: .root)
        #expect(try await root.children(of: .root) == [], "every check's namespace must be cleaned up")
        await root.close()
    }

    @Test func runAllListsEveryFailureAndUnknownDeviations() async throws {
        let harness = UnsortedChildrenHarness(deviations: ["no-such-check": "stale entry"])
        let failures = await #expect(throws: ConformanceFailures.self) { try await ConformanceSuite(harness: harness).runAll() }
        let names = Set(failures?.failures.map(\.check) ?? [])
        #expect(names.contains("tree-children-sorted-by-bytes"))
        #expect(names.contains("no-such-check"))
        #expect(failures?.description.contains("tree-children-sorted-by-bytes") == true)
    }
}

/// A memory store whose `children(of:)` breaks clause 3 by listing names in reverse order.
struct UnsortedChildrenHarness: ConformanceHarness {
    let memory = MemoryHarness()
    let deviations: [String: String]

    var backendName: String { "memory-with-unsorted-children" }
    var expectedDeviations: [String: String] { deviations }

    func openStore(namespace: Key) async throws -> any CoordinationStore {
        UnsortedChildrenStore(base: try await memory.openStore(namespace: namespace))
    }

    func expireSession(of store: any CoordinationStore) async throws {
        try await memory.expireSession(of: (store as! UnsortedChildrenStore).base)
    }

    func cutConnection(of store: any CoordinationStore) async throws {
        try await memory.cutConnection(of: (store as! UnsortedChildrenStore).base)
    }

    func healConnection(of store: any CoordinationStore) async throws {
        try await memory.healConnection(of: (store as! UnsortedChildrenStore).base)
    }
}

struct UnsortedChildrenStore: CoordinationStore {
    let base: any CoordinationStore

    var namespace: Key { base.namespace }
    var session: SessionEvent { base.session }
    func get(_ key: Key) async throws -> Record? { try await base.get(key) }
    func exists(_ key: Key) async throws -> Bool { try await base.exists(key) }
    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record { try await base.create(key, value: value, mode: mode) }
    func set(_ key: Key, value: [UInt8], ifVersion: Int64?) async throws -> Record { try await base.set(key, value: value, ifVersion: ifVersion) }
    func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws { try await base.delete(key, ifVersion: ifVersion, recursive: recursive) }
    func children(of key: Key) async throws -> [String] { try await base.children(of: key).reversed() }
    func walk(_ key: Key) -> AsyncThrowingStream<Record, any Error> { base.walk(key) }
    func transaction(_ operations: [Operation]) async throws -> [OperationResult] { try await base.transaction(operations) }
    func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> { base.watch(key, scope: scope) }
    func sessionEvents() -> AsyncStream<SessionEvent> { base.sessionEvents() }
    func close() async { await base.close() }
}
