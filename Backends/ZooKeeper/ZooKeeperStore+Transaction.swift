import CZooKeeper
import Coordination
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ZooKeeperStore {
    /// Applies `operations` with one `zoo_amulti` (clause 5).
    ///
    /// A multi's results carry no Stat for creates, but every part of a multi commits under one
    /// zxid. When the transaction creates keys and sets none, three operations are appended on a
    /// scratch znode under the namespace (create, set, delete: no net change) so that the set's
    /// Stat reveals that zxid, the created records' create and mod revision.
    public func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        try CoordinationLimits.validate(transaction: operations)
        // Nothing to send, so nothing would notice the close: a closed handle answers as for any call.
        if operations.isEmpty {
            if connection.isClosed { throw CoordinationError.closed() }
            return []
        }
        let needsProbe = operations.contains { if case .create = $0 { true } else { false } }
            && !operations.contains { if case .set = $0 { true } else { false } }
        var attempts = 0
        // The namespace is the handle's root, which always exists: a create directly beneath it
        // makes the namespace's znode again if it was deleted from outside, as the standalone
        // create does (and the other backends), before the multi.
        let createsAtRoot = !namespace.isRoot && operations.createsBeneathRoot
        var madeNamespace = false
        var skips = 0
        while true {
            attempts += 1
            do {
                if createsAtRoot && !madeNamespace {
                    do {
                        try await ensurePath(namespace)
                    } catch let error as CoordinationError where [.sessionExpired, .connectionLoss].contains(error.code) {
                        throw MultiNotSent()  // as the multi would be: wait for a live session
                    }
                    madeNamespace = true
                }
                return try await runMulti(operations, probe: needsProbe)
            } catch let failure as ProbeFailure {
                // The namespace's znode itself went missing: make it and try once more.
                guard !madeNamespace else { throw failure.error }
                try await ensurePath(namespace)
                madeNamespace = true
            } catch let taken as SequentialNameTaken {
                // Nothing was applied; the parent's count moves past the plain key's name.
                skips += 1
                guard skips < 64 else { throw taken.error }
                try await skipSequence(under: taken.parent)
            } catch is MultiNotSent {
                // Nothing went out. While contact is lost it fails at once, as every other call
                // does, instead of waiting as long as the cut lasts (for ever if the server stays
                // out of reach: only the server can say the session expired).
                if session.state == .suspended { throw notSent("transaction") }
                // After an expiry, wait for the new session that replaces it, where the
                // transaction runs as it would on etcd's new lease.
                guard attempts < 50 else { throw fail(ZCONNECTIONLOSS.rawValue, namespace, "transaction") }
                try await waitForLiveSession()
                // Our session events trail the C client's state: it changes the state on its I/O
                // thread and tells us later, on its completion thread (behind whatever runs
                // there). Until then our view still says connected, so the wait above returns at
                // once while the client refuses the multi; unpaced, the 50 attempts would be spent
                // within a millisecond and a lag of a few would fail the transaction with
                // connectionLoss. The pause spreads them over about a second, long enough for
                // the event that settles it (suspended: fail; reconnected: send) to arrive.
                if attempts > 1 { try await Task.sleep(for: .milliseconds(20)) }
            }
        }
    }

    /// Returns once the store has a connected session (the current one or its replacement),
    /// waiting at most a session timeout, as a single call does; then `sessionExpired` (or
    /// `closed`), instead of waiting for ever for a server that told of the expiry and went.
    private func waitForLiveSession() async throws {
        if await connection.awaitLiveSession() { return }
        try Task.checkCancellation()
        if connection.isClosed { throw CoordinationError.closed() }
        throw ZooKeeperReturnCode.error(ZINVALIDSTATE.rawValue, key: nil, during: "transaction")
    }

    /// A write refused for lost contact: `connectionLoss`, as the C client reports every other
    /// write while it reconnects and as the other backends do (though this one was never sent).
    private func notSent(_ operation: String) -> CoordinationError {
        ZooKeeperReturnCode.error(ZCONNECTIONLOSS.rawValue, key: nil, during: operation)
    }

    /// The namespace's znode is missing; `error` is what to report if making it does not help.
    private struct ProbeFailure: Error {
        let error: CoordinationError
    }
    /// The multi was not handed to the C client because the handle was not connected (or expired).
    private struct MultiNotSent: Error {}
    /// A sequential create's number is the name of a plain key under `parent`; `error` is ZooKeeper's refusal.
    private struct SequentialNameTaken: Error {
        let parent: Key
        let error: CoordinationError
    }

    /// Moves `parent`'s sequence (its cversion, which numbers sequential children) past the name a
    /// plain child holds, as etcd's counter and the embedded store skip it (clause 6): a child
    /// created and deleted in one multi, which nobody can see, counts twice.
    func skipSequence(under parent: Key) async throws {
        let scratch = try parent.child(".coordination-seq-" + String(UInt64.random(in: 0...UInt64.max), radix: 36))
        for _ in 0..<8 {
            do {
                _ = try await runMulti([.create(scratch, value: [], mode: .persistent), .delete(scratch, ifVersion: nil)], probe: false)
                return
            } catch is MultiNotSent {
                if session.state == .suspended { throw notSent("sequential create") }
                try await waitForLiveSession()
            } catch let error as CoordinationError where error.code == .noNode {
                return  // the parent went: the create's retry makes it again
            }
        }
    }
    private static let notConnected: Int32 = .min

    private static func verb(of operation: Coordination.Operation) -> String {
        switch operation {
        case .check: "check"
        case .create: "create"
        case .set: "set"
        case .delete: "delete"
        }
    }

    private func runMulti(_ operations: [Coordination.Operation], probe: Bool) async throws -> [OperationResult] {
        let probePath = probe ? namespace.appending(try Key("/.coordination-txn-" + String(UInt64.random(in: 0...UInt64.max), radix: 36))) : nil
        let count = operations.count + (probe ? 3 : 0)
        // Everything the C client reads or fills lives until the completion has run.
        var allocations: [UnsafeMutableRawPointer] = []
        let ops = UnsafeMutablePointer<zoo_op_t>.allocate(capacity: count)
        let results = UnsafeMutablePointer<zoo_op_result_t>.allocate(capacity: count)
        let stats = UnsafeMutablePointer<Stat>.allocate(capacity: count)
        results.initialize(repeating: zoo_op_result_t(), count: count)
        stats.initialize(repeating: Stat(), count: count)
        var pathBuffers: [Int: UnsafeMutablePointer<CChar>] = [:]
        defer {
            for allocation in allocations { free(allocation) }
            ops.deallocate()
            results.deallocate()
            stats.deallocate()
        }
        func cString(_ text: String) -> UnsafeMutablePointer<CChar> {
            let copy = strdup(text)!
            allocations.append(copy)
            return copy
        }
        func bytes(_ value: [UInt8]) -> UnsafeMutablePointer<CChar> {
            let copy = malloc(max(1, value.count))!
            value.withUnsafeBytes { if let base = $0.baseAddress { copy.copyMemory(from: base, byteCount: value.count) } }
            allocations.append(copy)
            return copy.assumingMemoryBound(to: CChar.self)
        }
        func pathBuffer(for index: Int, _ path: String) -> (UnsafeMutablePointer<CChar>, Int32) {
            let length = path.utf8.count + CoordinationLimits.sequenceDigits + 2
            let buffer = malloc(length)!.assumingMemoryBound(to: CChar.self)
            allocations.append(buffer)
            pathBuffers[index] = buffer
            return (buffer, Int32(length))
        }
        let acl = self.acl
        for (index, operation) in operations.enumerated() {
            let path = znode(operation.key).path
            switch operation {
            case .check(_, let version):
                zoo_check_op_init(ops + index, cString(path), Self.zkVersion(version))
            case .create(_, let value, let mode):
                let (buffer, length) = pathBuffer(for: index, path)
                zoo_create_op_init(ops + index, cString(path), bytes(value), Int32(value.count), acl, Self.flags(for: mode), buffer, length)
            case .set(_, let value, let version):
                zoo_set_op_init(ops + index, cString(path), bytes(value), Int32(value.count), Self.zkVersion(version), stats + index)
            case .delete(_, let version):
                zoo_delete_op_init(ops + index, cString(path), Self.zkVersion(version))
            }
        }
        if let probePath {
            let base = operations.count
            let path = cString(probePath.path)
            zoo_create_op_init(ops + base, path, bytes([]), 0, acl, ZOO_PERSISTENT, nil, 0)
            zoo_set_op_init(ops + base + 1, path, bytes([]), 0, -1, stats + base + 1)
            zoo_delete_op_init(ops + base + 2, path, -1)
        }

        // A multi's creates come back without a stat: their owner is the session of the handle
        // the multi went out on (connected, so its id is known; a handle keeps one session).
        var sender: Int64 = 0
        let reply = await connection.call(throughLeader: true) { zh, context in
            // The 3.8 C client's zoo_amulti frees a stale (uninitialised) path for every operation
            // after the first when its handle is already unrecoverable (session expired, auth
            // failed), which corrupts the heap. So a multi goes out only on a live connection:
            // a connected handle learns of an expiry only after it reconnects, long after this call.
            let state = zoo_state(zh)
            guard state == ZOO_CONNECTED_STATE else {
                return state == ZOO_AUTH_FAILED_STATE ? ZAUTHFAILED.rawValue : Self.notConnected
            }
            sender = zoo_client_id(zh)?.pointee.client_id ?? 0
            return zoo_amulti(zh, Int32(count), ops, results, completeVoid, context)
        }
        if reply.rc == Self.notConnected { throw MultiNotSent() }

        // Answered by the close, not by the server: no operation is to blame (the client may have
        // copied ZCLOSING into every result), and the multi may have been applied.
        if reply.rc == ZooKeeperReturnCode.closedInFlight {
            throw ZooKeeperReturnCode.error(reply.rc, key: nil, during: "transaction")
        }
        guard reply.rc == ZOK.rawValue else {
            // The failing operation carries the real error. Without per-operation results
            // (connection loss), or with one the whole call failed with, no operation is to
            // blame, and naming one would read as a refusal.
            let codes = (0..<count).map { results[$0].err }
            let failure = ZooKeeperReturnCode.firstFailure(in: codes)
            if let failure = ZooKeeperReturnCode.blamedOperation(in: codes, operationCount: operations.count) {
                let operation = operations[failure]
                var error = await fail(results[failure].err, znode(operation.key), Self.verb(of: operation), expected: operation.expectedVersion)
                if results[failure].err == ZNONODE.rawValue, case .create(let key, _, _) = operation {
                    // ZooKeeper's words name the key being created; what is missing is its parent.
                    error.message = "cannot create \(key): its parent \(key.parent ?? .root) does not exist (a transaction creates no ancestors)"
                }
                error = error.inTransaction(operation: failure, of: operations.count)
                if results[failure].err == ZNODEEXISTS.rawValue, case .create(let key, _, let mode) = operation, mode.isSequential {
                    throw SequentialNameTaken(parent: key.parent ?? .root, error: error)
                }
                throw error
            }
            let error = ZooKeeperReturnCode.hintingAtRequestLimit(
                ZooKeeperReturnCode.error(
                    failure.map { results[$0].err } ?? reply.rc, key: nil, during: "transaction", identity: identity, server: refusingServer),
                requestBytes: CoordinationLimits.payloadBytes(of: operations))
            // Only a probed multi has a result past the operations' own.
            if probe, failure != nil, results[operations.count].err == ZNONODE.rawValue { throw ProbeFailure(error: error) }
            throw error
        }

        let zxid: Int64 = probe
            ? stats[operations.count + 1].mzxid
            : operations.indices.first { if case .set = operations[$0] { true } else { false } }.map { stats[$0].mzxid } ?? 0
        var outcome: [OperationResult] = []
        outcome.reserveCapacity(operations.count)
        for (index, operation) in operations.enumerated() {
            switch operation {
            case .check:
                outcome.append(.checked)
            case .create(let key, let value, let mode):
                let created = pathBuffers[index].flatMap { Self.znodeKey(String(cString: $0)) } ?? znode(key)
                if mode == .ephemeralSequential { _ = claim(created, created: zxid) }
                outcome.append(.created(Record(
                    key: self.key(ofZnode: created), value: value, version: 0, createRevision: zxid, modRevision: zxid,
                    isEphemeral: mode.isEphemeral, ownerSession: mode.isEphemeral ? SessionMachine.describe(sender) : nil)))
            case .set(let key, let value, _):
                outcome.append(.set(record(znode(key), value: value, stat: stats[index])))
            case .delete(let key, _):
                forget(znode(key).path)
                outcome.append(.deleted)
            }
        }
        return outcome
    }
}
