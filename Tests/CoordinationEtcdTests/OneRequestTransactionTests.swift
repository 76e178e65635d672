import Coordination
@testable import CoordinationEtcd
import Testing

/// The one-request transaction planner, without a server: which transactions qualify, the
/// compares and writes it builds (no compare twice, no failure branch), counter guesses, and
/// results equal to the two-request path's for the same state.
@Suite struct OneRequestTransactionTests {
    let keys = KeySpace(namespace: try! Key("/ns"))
    let lease: Int64 = 77

    func key(_ path: String) -> Key { try! Key(path) }

    func planned(_ operations: [Operation], lease: Int64? = 77, counters: [Key: CounterGuess] = [:]) -> OneRequestTransaction? {
        OneRequestTransaction(operations: operations, keys: keys, lease: lease, counters: { counters[$0] ?? .absent })
    }

    func etcd(_ path: String) -> [UInt8] { keys.etcdKey(key(path)) }

    /// A key-value as the gateway writes it.
    func stored(_ path: String, version: Int64, createRevision: Int64, modRevision: Int64, lease: Int64 = 0, value: [UInt8] = [9]) -> JSONValue {
        [
            "key": .bytes(etcd(path)), "value": .bytes(value), "version": .int64(version),
            "create_revision": .int64(createRevision), "mod_revision": .int64(modRevision), "lease": .int64(lease),
        ]
    }

    /// The reply of a read of `reads` (range requests) against `state` (key-values by etcd key).
    func snapshot(_ reads: [JSONValue], state: [[UInt8]: JSONValue], revision: Int64) throws -> TxnReply {
        let responses: [JSONValue] = reads.map { read in
            let start = read["key"]?.base64Bytes ?? []
            let kvs: [JSONValue]
            if let end = read["range_end"]?.base64Bytes {
                kvs = state.filter { $0.key.lexicographicallyPrecedes(end) && !$0.key.lexicographicallyPrecedes(start) }.map(\.value)
            } else {
                kvs = state[start].map { [$0] } ?? []
            }
            return ["response_range": ["kvs": .array(kvs)]]
        }
        return try TxnReply(["header": ["revision": .int64(revision)], "succeeded": true, "responses": .array(responses)])
    }

    /// The reply of a successful txn with `success` applied to `state`.
    func applied(_ success: [JSONValue], state: [[UInt8]: JSONValue], revision: Int64) throws -> TxnReply {
        let responses: [JSONValue] = success.map { request in
            if let put = request["request_put"] {
                guard put["prev_kv"]?.boolValue == true, let previous = state[put["key"]?.base64Bytes ?? []] else { return ["response_put": [:]] }
                return ["response_put": ["prev_kv": previous]]
            }
            return ["response_delete_range": ["deleted": "1"]]
        }
        return try TxnReply(["header": ["revision": .int64(revision)], "succeeded": true, "responses": .array(responses)])
    }

    /// Results of the two-request path for `operations` on `state`, and of the one-request path.
    func bothResults(_ operations: [Operation], state: [[UInt8]: JSONValue], counters: [Key: CounterGuess] = [:]) throws
        -> (replayed: [OperationResult], oneRequest: [OperationResult])
    {
        let plan = TransactionPlan(operations: operations, keys: keys)
        var replay = try TransactionReplay(plan: plan, snapshot: try snapshot(plan.reads, state: state, revision: 30), keys: keys)
        try replay.play(operations, lease: lease).get()
        let oneRequest = try #require(planned(operations, counters: counters))
        return (replay.results(revision: 31), try oneRequest.results(try applied(oneRequest.success, state: state, revision: 31)))
    }

    // MARK: Compares and writes

    @Test func claimQualifiesWithComparesOnTheStateBefore() throws {
        let run = key("/runs/r1")
        let claim = key("/claims/r1")
        let operations: [Operation] = [
            .check(run, version: 4), .create(claim, value: [1], mode: .ephemeral), .set(run, value: [2], ifVersion: 4),
        ]
        let transaction = try #require(planned(operations))
        #expect(transaction.compares == [
            EtcdRequest.compare(etcd("/runs/r1"), .version, .equal, 5),
            EtcdRequest.compare(etcd("/claims"), .create, .greater, 0),
            EtcdRequest.compare(etcd("/claims"), .lease, .equal, 0),
            EtcdRequest.compare(etcd("/claims/r1"), .create, .equal, 0),
        ], "the set's version compare is the check's: sent once")
        #expect(transaction.success == [
            ["request_put": EtcdRequest.put(etcd("/claims/r1"), value: [1], lease: lease)],
            ["request_put": EtcdRequest.put(etcd("/runs/r1"), value: [2], ignoreLease: true, previous: true)],
        ])
        #expect(transaction.request["failure"] == nil, "a failed txn is followed by the two-request path's reads, not carried in it")
    }

    /// The scheduler's claim: the claim beneath its run. The run's version compare says that the
    /// run exists, so as the claim's parent it is compared only to be persistent, whichever
    /// operation comes first.
    @Test func aParentWithAVersionCompareIsNotComparedToExistAgain() throws {
        let run = key("/runs/j/r")
        let claim = key("/runs/j/r/claim")
        let expected = [
            EtcdRequest.compare(etcd("/runs/j/r"), .version, .equal, 2),
            EtcdRequest.compare(etcd("/runs/j/r"), .lease, .equal, 0),
            EtcdRequest.compare(etcd("/runs/j/r/claim"), .create, .equal, 0),
        ]
        let checkFirst = try #require(planned([
            .check(run, version: 1), .create(claim, value: [1], mode: .ephemeral), .set(run, value: [2], ifVersion: 1),
        ]))
        #expect(checkFirst.compares == expected)
        let createFirst = try #require(planned([
            .create(claim, value: [1], mode: .ephemeral), .check(run, version: 1), .set(run, value: [2], ifVersion: 1),
        ]))
        #expect(createFirst.compares.count == 3 && expected.allSatisfy(createFirst.compares.contains))
    }

    @Test func checksAndWritesWithoutVersionsCompareExistence() throws {
        let transaction = try #require(planned([.check(key("/a"), version: nil), .set(key("/b"), value: [], ifVersion: nil), .delete(key("/c"), ifVersion: nil)]))
        let (start, end) = keys.subtree(key("/c"))
        #expect(transaction.compares == [
            EtcdRequest.compare(etcd("/a"), .create, .greater, 0),
            EtcdRequest.compare(etcd("/b"), .create, .greater, 0),
            EtcdRequest.compare(etcd("/c"), .create, .greater, 0),
            EtcdRequest.compare(start, end: end, .create, .equal, 0),
        ])
        #expect(transaction.success.suffix(2) == [
            ["request_delete_range": EtcdRequest.deleteRange(etcd("/c"))], keys.counterDeletion(of: key("/c")),
        ], "a deleted key's sequence counter goes with it")
        #expect(transaction.counters(writtenAt: 9).map(\.guess) == [.absent])
    }

    /// The end of a run: its claim (beneath it) goes, then the run. The run's subtree may hold
    /// nothing but the keys deleted before it: the compares cover the ranges around them, and
    /// with them the subtrees of those keys, whose own compares are left out.
    @Test func deleteAfterDeletingKeysBeneathComparesTheRangesAroundThem() throws {
        let operations: [Operation] = [
            .check(key("/runs/j/r"), version: 1), .delete(key("/runs/j/r/claim"), ifVersion: nil),
            .delete(key("/runs/j/r/a"), ifVersion: nil), .delete(key("/runs/j/r"), ifVersion: 1),
        ]
        let transaction = try #require(planned(operations))
        let (start, end) = keys.subtree(key("/runs/j/r"))
        #expect(transaction.compares == [
            EtcdRequest.compare(etcd("/runs/j/r"), .version, .equal, 2),
            EtcdRequest.compare(etcd("/runs/j/r/claim"), .create, .greater, 0),
            EtcdRequest.compare(etcd("/runs/j/r/a"), .create, .greater, 0),
            EtcdRequest.compare(start, end: etcd("/runs/j/r/a"), .create, .equal, 0),
            EtcdRequest.compare(etcd("/runs/j/r/a") + [0], end: etcd("/runs/j/r/claim"), .create, .equal, 0),
            EtcdRequest.compare(etcd("/runs/j/r/claim") + [0], end: end, .create, .equal, 0),
        ])
        let state: [[UInt8]: JSONValue] = [
            etcd("/runs/j/r"): stored("/runs/j/r", version: 2, createRevision: 3, modRevision: 5),
            etcd("/runs/j/r/claim"): stored("/runs/j/r/claim", version: 1, createRevision: 5, modRevision: 5, lease: lease),
            etcd("/runs/j/r/a"): stored("/runs/j/r/a", version: 1, createRevision: 4, modRevision: 4),
        ]
        let (replayed, oneRequest) = try bothResults(operations, state: state)
        #expect(oneRequest == replayed)
    }

    @Test func deleteWithVersionComparesItAndAnEmptySubtree() throws {
        let transaction = try #require(planned([.delete(key("/c"), ifVersion: 2)]))
        let (start, end) = keys.subtree(key("/c"))
        #expect(transaction.compares == [
            EtcdRequest.compare(etcd("/c"), .version, .equal, 3), EtcdRequest.compare(start, end: end, .create, .equal, 0),
        ])
    }

    @Test func createsUnderTheRootOrAParentCreatedEarlierCompareNoParent() throws {
        let transaction = try #require(planned([
            .create(key("/p"), value: [], mode: .persistent), .create(key("/p/c"), value: [], mode: .persistent),
            .create(key("/p/d"), value: [], mode: .ephemeral),
        ]))
        #expect(transaction.compares == [
            EtcdRequest.compare(etcd("/p"), .create, .equal, 0), EtcdRequest.compare(etcd("/p/c"), .create, .equal, 0),
            EtcdRequest.compare(etcd("/p/d"), .create, .equal, 0),
        ])
    }

    @Test func siblingsCompareTheirParentOnce() throws {
        let transaction = try #require(planned([.create(key("/p/a"), value: [], mode: .persistent), .create(key("/p/b"), value: [], mode: .persistent)]))
        #expect(transaction.compares.count == 4)
    }

    // MARK: What does not qualify

    @Test(arguments: [
        ("create then set", [Operation.create(try! Key("/a"), value: [], mode: .persistent), .set(try! Key("/a"), value: [], ifVersion: 0)]),
        ("set then check", [.set(try! Key("/a"), value: [], ifVersion: nil), .check(try! Key("/a"), version: 1)]),
        ("delete then create", [.delete(try! Key("/a"), ifVersion: nil), .create(try! Key("/a"), value: [], mode: .persistent)]),
        ("create under a set key", [.set(try! Key("/a"), value: [], ifVersion: nil), .create(try! Key("/a/b"), value: [], mode: .persistent)]),
        ("create under an ephemeral created earlier", [
            .create(try! Key("/a"), value: [], mode: .ephemeral), .create(try! Key("/a/b"), value: [], mode: .persistent),
        ]),
        ("delete above a created key", [.create(try! Key("/a/b"), value: [], mode: .persistent), .delete(try! Key("/a"), ifVersion: nil)]),
        ("delete above a set key", [.set(try! Key("/a/b"), value: [], ifVersion: nil), .delete(try! Key("/a"), ifVersion: nil)]),
        ("write beneath a deleted key", [.delete(try! Key("/a"), ifVersion: nil), .set(try! Key("/a/b"), value: [], ifVersion: nil)]),
        ("a version no key has", [.check(try! Key("/a"), version: -1)]),
        ("a version past etcd's", [.set(try! Key("/a"), value: [], ifVersion: .max)]),
    ])
    func doesNotQualify(_ case: String, _ operations: [Operation]) {
        #expect(planned(operations) == nil, "\(`case`)")
    }

    @Test func ephemeralCreateWithoutALeaseDoesNotQualify() {
        #expect(planned([.create(key("/e"), value: [], mode: .ephemeral)], lease: nil) == nil)
        #expect(planned([.create(key("/e"), value: [], mode: .persistent)], lease: nil) != nil)
    }

    @Test func overEtcdsOperationLimitDoesNotQualify() throws {
        let limit = EtcdRequest.maxOperationsPerBranch
        // Each create of a fresh parent's child compares three things and reads two keys.
        let creates = try (0..<43).map { Operation.create(try Key("/p\($0)/c"), value: [], mode: .persistent) }
        #expect(planned(Array(creates.prefix(42))) != nil)
        #expect(planned(creates) == nil, "129 compares")
        let sets = try (0..<limit).map { Operation.set(try Key("/k\($0)"), value: [], ifVersion: nil) }
        #expect(planned(sets) != nil)
        let sequential = try (0..<limit).map { Operation.create(try Key("/s\($0)/k-"), value: [], mode: .sequential) }
        #expect(planned(sequential) == nil, "four compares per create under a fresh parent")
    }

    // MARK: Counters

    @Test func unknownCounterIsGuessedAbsent() throws {
        let operations: [Operation] = [
            .create(key("/q/job-"), value: [], mode: .sequential), .create(key("/q/job-"), value: [], mode: .sequential),
        ]
        let transaction = try #require(planned(operations))
        let counter = keys.counter(of: key("/q"))
        #expect(transaction.compares.contains(EtcdRequest.compare(counter, .mod, .equal, 0)))
        #expect(transaction.compares.contains(EtcdRequest.compare(etcd("/q/job-0000000000"), .create, .equal, 0)))
        #expect(transaction.compares.contains(EtcdRequest.compare(etcd("/q/job-0000000001"), .create, .equal, 0)))
        #expect(transaction.success.last == ["request_put": EtcdRequest.put(counter, value: Array("2".utf8))], "one counter put for both")
        #expect(transaction.success.count == 3)
        #expect(transaction.counters(writtenAt: 50).map(\.guess) == [CounterGuess(next: 2, modRevision: 50)])
    }

    @Test func knownCounterNamesTheNextKeyAndComparesItsRevision() throws {
        let parent = key("/q")
        let transaction = try #require(planned([.create(key("/q/job-"), value: [], mode: .sequential)], counters: [parent: CounterGuess(next: 7, modRevision: 42)]))
        #expect(transaction.compares.contains(EtcdRequest.compare(keys.counter(of: parent), .mod, .equal, 42)))
        #expect(transaction.success.first == ["request_put": EtcdRequest.put(etcd("/q/job-0000000007"), value: [], lease: 0)])
        #expect(transaction.success.last == ["request_put": EtcdRequest.put(keys.counter(of: parent), value: Array("8".utf8))])
    }

    @Test func guessesKeepTheNewestSightingAndStayBounded() {
        let guesses = CounterGuesses(capacity: 2)
        let parent = key("/q")
        guesses.remember([(parent, CounterGuess(next: 5, modRevision: 40))], at: 40)
        guesses.remember([(parent, CounterGuess(next: 3, modRevision: 20))], at: 35)
        #expect(guesses.guess(for: parent) == CounterGuess(next: 5, modRevision: 40), "an older read does not undo a newer write")
        guesses.remember([(parent, .absent)], at: 60)
        #expect(guesses.guess(for: parent) == .absent, "a counter read absent (deleted) later is absent")
        guesses.remember([(key("/a"), CounterGuess(next: 1, modRevision: 61)), (key("/b"), CounterGuess(next: 1, modRevision: 62))], at: 62)
        let remembered = [key("/q"), key("/a"), key("/b")].filter { guesses.guess(for: $0) != .absent }
        #expect(remembered.count <= 2)
        #expect(guesses.guess(for: key("/b")) == CounterGuess(next: 1, modRevision: 62))
    }

    // MARK: Results equal the two-request path's

    @Test func claimResultsEqualTheReplays() throws {
        let state: [[UInt8]: JSONValue] = [
            etcd("/runs"): stored("/runs", version: 1, createRevision: 2, modRevision: 2),
            etcd("/runs/r1"): stored("/runs/r1", version: 5, createRevision: 10, modRevision: 12),
            etcd("/claims"): stored("/claims", version: 1, createRevision: 3, modRevision: 3),
        ]
        let (replayed, oneRequest) = try bothResults([
            .check(key("/runs/r1"), version: 4), .create(key("/claims/r1"), value: [1], mode: .ephemeral),
            .set(key("/runs/r1"), value: [2], ifVersion: 4),
        ], state: state)
        #expect(oneRequest == replayed)
        guard case .set(let record) = oneRequest[2] else { Issue.record("no set result"); return }
        #expect(record.version == 5 && record.createRevision == 10 && record.modRevision == 31 && !record.isEphemeral)
    }

    @Test func setOfAnEphemeralKeyWithoutVersionEqualsTheReplays() throws {
        let state: [[UInt8]: JSONValue] = [
            etcd("/e"): stored("/e", version: 2, createRevision: 8, modRevision: 9, lease: lease),
            etcd("/gone"): stored("/gone", version: 1, createRevision: 4, modRevision: 4),
        ]
        let (replayed, oneRequest) = try bothResults([.set(key("/e"), value: [3], ifVersion: nil), .delete(key("/gone"), ifVersion: 0)], state: state)
        #expect(oneRequest == replayed)
        #expect(oneRequest.first.map { if case .set(let record) = $0 { record.isEphemeral && record.version == 2 } else { false } } == true)
    }

    @Test func sequentialResultsEqualTheReplaysWhenTheGuessIsRight() throws {
        let parent = key("/q")
        let counter = keys.counter(of: parent)
        let state: [[UInt8]: JSONValue] = [
            etcd("/q"): stored("/q", version: 1, createRevision: 2, modRevision: 2),
            counter: ["key": .bytes(counter), "value": .bytes(Array("7".utf8)), "version": "3", "create_revision": "5", "mod_revision": "21"],
        ]
        let operations: [Operation] = [
            .create(key("/q/job-"), value: [1], mode: .sequential), .create(key("/q/job-"), value: [2], mode: .ephemeralSequential),
        ]
        let (replayed, oneRequest) = try bothResults(operations, state: state, counters: [parent: CounterGuess(next: 7, modRevision: 21)])
        #expect(oneRequest == replayed)
        #expect(oneRequest.map { if case .created(let record) = $0 { record.key.name } else { "" } } == ["job-0000000007", "job-0000000008"])
    }
}
