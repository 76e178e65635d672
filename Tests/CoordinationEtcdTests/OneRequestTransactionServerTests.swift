import Coordination
@testable import CoordinationEtcd
import Testing

/// Transactions on the shared etcd: one request when they qualify and succeed, the same records
/// as reading the keys back, and the same failures (operation and code) as the two-request path,
/// for one request more: the failed txn carries no reads, so the snapshot is read after it.
extension EtcdStoreTests {
    /// Runs `transaction` and returns its outcome with the number of requests it took.
    func counted(_ store: EtcdStore, _ operations: [Operation]) async -> (Result<[OperationResult], CoordinationError>, requests: Int) {
        let before = store.requestsSent.load(ordering: .relaxed)
        let outcome: Result<[OperationResult], CoordinationError>
        do {
            outcome = .success(try await store.transaction(operations))
        } catch let error as CoordinationError {
            outcome = .failure(error)
        } catch {
            outcome = .failure(CoordinationError(.unavailable, "unexpected \(error)"))
        }
        return (outcome, store.requestsSent.load(ordering: .relaxed) - before)
    }

    func record(_ result: OperationResult) -> Record? {
        switch result {
        case .created(let record), .set(let record): record
        case .checked, .deleted: nil
        }
    }

    /// A scheduler run's claim (the job's incarnation key checked, then an ephemeral key created
    /// beneath the run, the run set, the job's record checked: RunExecution.claim) and the end of
    /// the run (the claim, then the run, deleted) each take one request.
    @Test func claimAndEndOfRunTakeOneRequestEach() async throws {
        try await withStore { store, _ in
            let job = try Key("/jobs/b/j")
            let incarnation = try Key("/incarnations/b/tag-j")
            let run = try job.child("r1")
            let claim = try run.child("claim")
            _ = try await store.create(job, value: [0], mode: .persistent)
            _ = try await store.create(incarnation, value: [], mode: .persistent)
            _ = try await store.create(run, value: [0], mode: .persistent)
            _ = try await store.set(run, value: [1], ifVersion: 0)
            let (outcome, requests) = await counted(store, [
                .check(incarnation, version: nil), .check(run, version: 1), .create(claim, value: [7], mode: .ephemeral),
                .set(run, value: [2], ifVersion: 1), .check(job, version: 0),
            ])
            let results = try outcome.get()
            #expect(requests == 1)
            #expect(results[0] == .checked && results[1] == .checked && results[4] == .checked)
            #expect(record(results[2]) == (try await store.get(claim)))
            #expect(record(results[3]) == (try await store.get(run)))
            #expect(record(results[2])?.isEphemeral == true && record(results[3])?.version == 2)

            let (ended, endRequests) = await counted(store, [
                .check(run, version: 2), .delete(claim, ifVersion: nil), .delete(run, ifVersion: 2),
            ])
            #expect(try ended.get() == [.checked, .deleted, .deleted])
            #expect(endRequests == 1)
            #expect(try await store.get(run) == nil)
            #expect(try await store.get(claim) == nil)
        }
    }

    /// Deleting keys beneath a key and then the key itself still refuses a key left beneath it.
    @Test func deleteAfterItsChildrenRefusesAnotherChild() async throws {
        try await withStore { store, _ in
            let run = try Key("/runs/j/r2")
            let claim = try run.child("claim")
            _ = try await store.create(claim, value: [], mode: .ephemeral)
            _ = try await store.create(try run.child("other"), value: [], mode: .persistent)
            let (outcome, requests) = await counted(store, [.delete(claim, ifVersion: nil), .delete(run, ifVersion: nil)])
            guard case .failure(let error) = outcome else { Issue.record("a key with a child left was deleted"); return }
            #expect(error.code == .notEmpty && error.failedOperation == 1, "\(error)")
            #expect(requests == 2, "the failed txn, then the read that names the failing operation")
            #expect(try await store.exists(claim), "nothing was applied")
        }
    }

    /// A key beneath the deleted child itself (a child of the claim) is refused too, though
    /// the txn compares only the parent's ranges around the child, not the child's own subtree.
    @Test func deleteAfterItsChildrenRefusesAGrandchild() async throws {
        try await withStore { store, _ in
            let run = try Key("/runs/j/r3")
            let child = try run.child("claim")
            _ = try await store.create(try child.child("below"), value: [], mode: .persistent)
            let (outcome, requests) = await counted(store, [.delete(child, ifVersion: nil), .delete(run, ifVersion: nil)])
            guard case .failure(let error) = outcome else { Issue.record("a key with a grandchild was deleted"); return }
            #expect(error.code == .notEmpty && error.failedOperation == 0, "\(error)")
            #expect(requests == 2, "the failed txn, then the read that names the failing operation")
            #expect(try await store.exists(try child.child("below")), "nothing was applied")
        }
    }

    @Test func setsAndDeletesInOneRequestReturnWhatIsStored() async throws {
        try await withStore { store, _ in
            let ephemeral = try await store.create(try Key("/e"), value: [1], mode: .ephemeral)
            _ = try await store.create(try Key("/gone"), value: [], mode: .persistent)
            _ = try await store.create(try Key("/p"), value: [], mode: .persistent)
            let (outcome, requests) = await counted(store, [
                .set(ephemeral.key, value: [2], ifVersion: nil), .delete(try Key("/gone"), ifVersion: 0),
                .create(try Key("/p/a"), value: [3], mode: .persistent), .create(try Key("/p/a/b"), value: [4], mode: .persistent),
            ])
            let results = try outcome.get()
            #expect(requests == 1)
            let set = try #require(record(results[0]))
            #expect(set == (try await store.get(ephemeral.key)))
            #expect(set.isEphemeral && set.version == 1 && set.createRevision == ephemeral.createRevision)
            #expect(results[1] == .deleted)
            #expect(try await store.exists(try Key("/gone")) == false)
            #expect(record(results[2]) == (try await store.get(try Key("/p/a"))))
            #expect(record(results[3]) == (try await store.get(try Key("/p/a/b"))))
        }
    }

    @Test func failuresNameTheOperationInOneRequest() async throws {
        try await withStore { store, _ in
            let run = try Key("/r")
            _ = try await store.create(run, value: [], mode: .persistent)
            _ = try await store.create(try Key("/full/child"), value: [], mode: .persistent)
            _ = try await store.create(try Key("/eph"), value: [], mode: .ephemeral)
            let fresh = try Key("/fresh")
            let cases: [(String, [Operation], CoordinationError.Code, Int)] = [
                ("stale check", [.check(run, version: 3), .create(fresh, value: [], mode: .persistent)], .versionConflict, 0),
                ("missing check", [.create(fresh, value: [], mode: .persistent), .check(try Key("/none"), version: nil)], .noNode, 1),
                ("stale set", [.check(run, version: nil), .set(run, value: [], ifVersion: 5)], .versionConflict, 1),
                ("set of a missing key", [.set(try Key("/none"), value: [], ifVersion: nil)], .noNode, 0),
                ("delete with a child", [.create(fresh, value: [], mode: .persistent), .delete(try Key("/full"), ifVersion: nil)], .notEmpty, 1),
                ("existing key", [.create(run, value: [], mode: .persistent)], .nodeExists, 0),
                ("missing parent", [.create(fresh, value: [], mode: .persistent), .create(try Key("/none/c"), value: [], mode: .persistent)], .noNode, 1),
                ("ephemeral parent", [.create(try Key("/eph/c"), value: [], mode: .persistent)], .ephemeralChildren, 0),
            ]
            for (name, operations, code, index) in cases {
                let (outcome, requests) = await counted(store, operations)
                guard case .failure(let error) = outcome else {
                    Issue.record("\(name): applied")
                    continue
                }
                #expect(error.code == code && error.failedOperation == index, "\(name): \(error)")
                #expect(requests == 2, "\(name): the failed txn, then the snapshot's read")
                #expect(try await store.exists(fresh) == false, "\(name): nothing applied")
            }
            // Not for the one-request path (the parent is written by the same transaction): the same answer in two.
            let (outcome, requests) = await counted(store, [
                .create(try Key("/eph2"), value: [], mode: .ephemeral), .create(try Key("/eph2/c"), value: [], mode: .persistent),
            ])
            guard case .failure(let error) = outcome else { Issue.record("an ephemeral parent took a child"); return }
            #expect(error.code == .ephemeralChildren && error.failedOperation == 1)
            #expect(requests == 1, "the read of the two-request path, refused before writing")
        }
    }

    @Test func wrongCounterGuessStillNamesTheNextKey() async throws {
        try await withStore { store, namespace in
            let other = try await SharedEtcd.open(namespace)
            do {
                try await moveCounterUnderneath(store, other)
            } catch {
                await other.close()
                throw error
            }
            await other.close()
        }
    }

    /// A sequential create by `store`, then two by `other`, then `store` again.
    private func moveCounterUnderneath(_ store: EtcdStore, _ other: EtcdStore) async throws {
            let prefix = try Key("/q/job-")
            _ = try await store.create(try Key("/q"), value: [], mode: .persistent)
            func name(_ outcome: Result<[OperationResult], CoordinationError>) throws -> String? {
                try outcome.get().first.flatMap(record)?.key.name
            }
            let (first, firstRequests) = await counted(store, [.create(prefix, value: [], mode: .sequential)])
            #expect(try name(first) == "job-0000000000" && firstRequests == 1, "an unknown counter is guessed absent")
            // Another handle moves the counter on: this handle's guess is now wrong.
            _ = try await other.create(prefix, value: [], mode: .sequential)
            _ = try await other.transaction([.create(prefix, value: [], mode: .ephemeralSequential)])
            let (second, secondRequests) = await counted(store, [.create(prefix, value: [], mode: .sequential), .create(prefix, value: [], mode: .sequential)])
            #expect(try outcome(second).map { $0.key.name } == ["job-0000000003", "job-0000000004"])
            #expect(secondRequests == 3, "the failed guess, the read of the counter, then the write")
            let (third, thirdRequests) = await counted(store, [.create(prefix, value: [], mode: .sequential)])
            #expect(try name(third) == "job-0000000005" && thirdRequests == 1, "the counter it wrote is its next guess")
            #expect(try await store.children(of: try Key("/q")).count == 6)
    }

    /// The records of a successful transaction's creates and sets.
    private func outcome(_ outcome: Result<[OperationResult], CoordinationError>) throws -> [Record] {
        try outcome.get().compactMap(record)
    }
}
