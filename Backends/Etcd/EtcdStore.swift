public import Coordination
public import Logging
import Synchronization

/// A ``CoordinationStore`` on etcd 3.4+, spoken through its v3 JSON gateway with libcurl.
///
/// Requests run on one event-loop thread the store owns, over kept-alive connections (curl multi);
/// the session (an etcd lease) is kept alive on a thread and connection of its own; every watch
/// streams `/v3/watch` on its own thread. See ``KeySpace`` for how keys are laid out in etcd.
/// Those threads live until ``close()``: a handle that is dropped without being closed keeps them
/// (and its lease, until the TTL runs out).
public final class EtcdStore: CoordinationStore {
    public let namespace: Key
    let keys: KeySpace
    let gateway: Gateway
    let loop: CurlMultiLoop
    let keeper: SessionKeeper
    let watches: WatchRegistry
    /// One etcd watch stream per key and scope, however many subscribe to it.
    let watchHub = WatchHub()
    private let isClosed = Atomic<Bool>(false)
    /// Sequential counters as last seen, for transactions that name a sequential key without reading.
    let counterGuesses = CounterGuesses()
    /// Sequential creates of this handle take turns per parent (see ``KeyedTurns``).
    let sequentialTurns = KeyedTurns()
    /// Requests sent through ``call(_:_:kind:)``, for tests that count round trips.
    let requestsSent = Atomic<Int>(0)

    /// Opens a handle and its session.
    /// - Parameters:
    ///   - endpoints: `host:port` entries, tried in turn when one cannot be reached.
    ///   - secure: `https` (with `tls` files) instead of `http`.
    ///   - ttl: the session's time to live to ask for; etcd raises one below its minimum lease
    ///     TTL, and ``session`` then reports the one granted.
    ///   - connections: how many requests may be in flight at once (one kept-alive connection
    ///     each, opened only when that many requests wait, so a quiet handle keeps one); more
    ///     wait their turn. Watches and the session have their own.
    /// - Throws: `invalidConfiguration` for no endpoint, a malformed one, a TTL outside
    ///   ``CoordinationLimits/sessionTTLRange`` or credentials not in pairs (a user without a
    ///   password or with an empty one, a password without a user); `unavailable` when no
    ///   endpoint answers; `unauthenticated` for wrong credentials.
    public init(
        endpoints: [String], namespace: Key = .root, ttl: Duration = .seconds(10), secure: Bool = false,
        caCertificate: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil,
        user: String? = nil, password: String? = nil, requestTimeout: Duration = .seconds(10), connections: Int = EtcdConfiguration.defaultConnections,
        logger: Logger = Logger(label: "coordination.etcd")
    ) async throws {
        guard !endpoints.isEmpty else {
            throw CoordinationError(.invalidConfiguration, "an etcd store needs at least one endpoint (host:port)")
        }
        // Checked here too, for settings given by hand rather than through a URL or configuration.
        try CoordinationLimits.validate(sessionTTL: ttl)
        try StoreCredentials.requirePair(user: user, password: password, for: "etcd")
        let endpoints = try HostPort.normalized(endpoints, defaultPort: EtcdConfiguration.defaultPort)
        let tls = TLSFiles(caCertificate: caCertificate, clientCertificate: clientCertificate, clientKey: clientKey)
        let gateway = Gateway(
            hosts: endpoints, secure: secure, tls: tls, user: user, password: password,
            requestTimeout: requestTimeout, logger: logger)
        self.gateway = gateway
        self.namespace = namespace
        keys = KeySpace(namespace: namespace)
        let watches = WatchRegistry()
        self.watches = watches
        // Contact lost for the session may have been lost for the watches' connections too, and a
        // stream on a connection that died without a word would wait for ever: resume them all.
        keeper = try await SessionKeeper.start(gateway: gateway, ttl: ttl) { watches.restartAll() }
        loop = CurlMultiLoop(maxTransfers: max(1, connections), name: "etcd-requests", tls: gateway.tls)
        do {
            try await ensureNamespaceExists()
        } catch {
            await close()
            throw error
        }
    }

    /// A namespace is a key like any other from outside: make it (and its ancestors) exist, as a
    /// ZooKeeper chroot must, so a parent namespace sees it among its children.
    ///
    /// Read first, written only where missing: a user granted only reads (a read-only account on
    /// a production namespace) can open a namespace that exists, and an open costs one read
    /// rather than a write (through the raft log) per level.
    func ensureNamespaceExists() async throws(CoordinationError) {
        let chain = keys.namespaceChain
        guard !chain.isEmpty else { return }
        let present = try await read(chain.map { EtcdRequest.range($0, countOnly: true) })
        // One txn per missing key keeps it simple; namespaces are few and usually exist already.
        for (index, key) in chain.enumerated() where try present.count(index) == 0 {
            _ = try await call("/v3/kv/txn", EtcdRequest.txn(
                compare: [EtcdRequest.compare(key, .create, .equal, 0)], success: [["request_put": EtcdRequest.put(key, value: [])]]), kind: .write)
        }
    }

    // MARK: Plumbing

    /// Throws `unavailable` once the handle is closed: for calls that send nothing (the root's
    /// `exists`, an empty transaction) or would otherwise name the lease the close revoked.
    func requireOpen() throws(CoordinationError) {
        guard !isClosed.load(ordering: .relaxed) else { throw .closed() }
    }

    func call(_ path: String, _ body: JSONValue, kind: RequestKind) async throws(CoordinationError) -> JSONValue {
        try requireOpen()
        requestsSent.add(1, ordering: .relaxed)
        do {
            return try await gateway.call(path, body, via: loop, kind: kind)
        } catch where error.code == .permissionDenied {
            throw error.explainingPermission(refusedTo: gateway.userCredentials?.user, keys: keys)
        }
    }

    func txn(_ body: JSONValue, kind: RequestKind) async throws(CoordinationError) -> TxnReply {
        try TxnReply(try await call("/v3/kv/txn", body, kind: kind), from: kind)
    }

    /// Several ranges read at one revision (a txn without compares). etcd allows at most 128
    /// requests per txn, so a longer list is read in chunks pinned to the first chunk's revision.
    func read(_ ranges: [JSONValue]) async throws(CoordinationError) -> TxnReply {
        let limit = EtcdRequest.maxOperationsPerBranch
        var reply = try await txn(EtcdRequest.txn(compare: [], success: ranges.prefix(limit).map { ["request_range": $0] }), kind: .read)
        var offset = limit
        while offset < ranges.count {
            let chunk = ranges[offset..<min(offset + limit, ranges.count)].map { range -> JSONValue in
                guard case .object(var fields) = range else { return range }
                fields["revision"] = .int64(reply.revision)
                return ["request_range": .object(fields)]
            }
            reply.responses += try await txn(EtcdRequest.txn(compare: [], success: chunk), kind: .read).responses
            offset += limit
        }
        return reply
    }

    /// The session's lease for an ephemeral write; `sessionExpired` between an expiry and the next
    /// grant, or the grant's refusal (`unauthenticated`, `permissionDenied`) while etcd refuses
    /// the credentials a new lease needs: waiting for a new session cannot cure that.
    func currentLease() throws(CoordinationError) -> Int64 {
        try requireOpen()
        guard let lease = keeper.lease else {
            if let refusal = keeper.grantRefusal { throw Self.sessionRefused(refusal) }
            throw CoordinationError(.sessionExpired, "the session expired; a new one is being started")
        }
        return lease
    }

    /// A grant's refusal as an ephemeral write meets it.
    private static func sessionRefused(_ refusal: CoordinationError) -> CoordinationError {
        CoordinationError(
            refusal.code, "the session expired, and etcd refuses \(SessionKeeper.refused(refusal)): \(refusal.message)",
            backendDetail: refusal.backendDetail)
    }

    /// Runs an ephemeral write; when it meets the session's expiry (`sessionExpired`: no lease, or
    /// etcd found it gone, and then the txn wrote nothing), waits for the new session and writes
    /// there, as ZooKeeper and the embedded store do. Still `sessionExpired` when no new session
    /// comes within the TTL.
    func onLiveLease<T>(_ write: () async throws(CoordinationError) -> T) async throws(CoordinationError) -> T {
        for _ in 0..<3 {
            let old = session.sessionID
            do {
                return try await write()
            } catch where error.code == .sessionExpired {
                let renewed = await keeper.events.awaitSession(within: session.ttl) { $0.state == .connected && $0.sessionID != old }
                guard renewed else { throw keeper.grantRefusal.map(Self.sessionRefused) ?? error }
            }
        }
        return try await write()
    }

    /// Adds `key` to an error, and wakes the keeper if the lease was found gone.
    func annotate(_ error: CoordinationError, key: Key) -> CoordinationError {
        var error = error
        if error.key == nil { error.key = key }
        if error.code == .sessionExpired { keeper.nudge() }
        return error
    }

    // MARK: Reads

    public func get(_ key: Key) async throws -> Record? {
        if key.isRoot { throw CoordinationError.rootRefused("read") }
        let reply = try await call("/v3/kv/range", EtcdRequest.range(keys.etcdKey(key)), kind: .read)
        guard let first = try reply.rangeKeyValues(from: .read).first else { return nil }
        return keys.record(first, as: key)
    }

    public func exists(_ key: Key) async throws -> Bool {
        if key.isRoot {
            try requireOpen()
            return true
        }
        let reply = try await call("/v3/kv/range", EtcdRequest.range(keys.etcdKey(key), countOnly: true), kind: .read)
        return try reply.rangeCount(from: .read) > 0
    }

    public func children(of key: Key) async throws -> [String] {
        let listing = try await listing(of: key, collectingUnwritten: false)
        if !listing.exists { throw CoordinationError.noNode(key) }
        return listing.names
    }

    /// `key`'s children, whether `key` exists (the root always does) and, when asked, the names
    /// beneath it that are no keys but have keys beneath them (``UnwrittenParentListing``), from
    /// one read of the subtree's keys.
    private func listing(of key: Key, collectingUnwritten: Bool) async throws -> (names: [String], unwritten: [String], exists: Bool) {
        let (start, end) = keys.subtree(key)
        var ranges = [EtcdRequest.range(start, end: end, keysOnly: true)]
        if !key.isRoot { ranges.append(EtcdRequest.range(keys.etcdKey(key), countOnly: true)) }
        let reply = try await read(ranges)
        let exists = try key.isRoot || reply.count(1) > 0
        var names: [String] = []
        var tops: Set<String> = []
        for kv in try reply.range(0) {
            let name = kv.key[min(start.count, kv.key.count)...]
            guard let slash = name.firstIndex(of: UInt8(ascii: "/")) else {
                // Only keys that exist name children. A key no Key can name (written by another
                // tool: `/ns/a//b`, `/ns/dir/`) names none, nor does one deeper whose parent
                // another client never wrote (`/ns/a/b` with no `/ns/a`): `ls` would list a child
                // that `ls` and `get` of it then call missing.
                guard !name.isEmpty, keys.key(for: kv.key) != nil, let text = String(validating: name, as: UTF8.self) else { continue }
                names.append(text)
                continue
            }
            // A deeper key only names the child it lies beneath: an unwritten one if no key has it.
            guard collectingUnwritten, keys.key(for: kv.key) != nil,
                let top = String(validating: name[..<slash], as: UTF8.self)
            else { continue }
            tops.insert(top)
        }
        let unwritten = tops.subtracting(names)
        return (Key.sortedNames(names), Key.sortedNames(unwritten), exists)
    }

    public func walk(_ key: Key) -> AsyncThrowingStream<Record, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for record in try await self.subtreeRecords(key, includingKey: true).records {
                        try Task.checkCancellation()
                        continuation.yield(record)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Every record at (optionally) and beneath `key`, at one revision, parents before children and
    /// siblings in byte order (a depth-first order, which is not etcd's flat byte order: `/a-b`
    /// sorts between `/a` and `/a/x` there).
    func subtreeRecords(_ key: Key, includingKey: Bool) async throws(CoordinationError) -> (revision: Int64, records: [Record]) {
        let reply = try await txn(Self.snapshotRequest(keys, key, scope: .subtree), kind: .read)
        // An absent key yields nothing, even above keys another tool wrote without ancestors.
        if !key.isRoot, try reply.range(0).isEmpty { return (reply.revision, []) }
        var records = try Self.snapshotRecords(keys, key, scope: .subtree, reply: reply)
        if !includingKey { records.removeAll { $0.key == key } }
        records.sort { Self.depthFirst($0.key, $1.key) }
        return (reply.revision, records)
    }

    /// A read of everything a watch on `key` with `scope` covers, at one revision.
    static func snapshotRequest(_ keys: KeySpace, _ key: Key, scope: WatchScope) -> JSONValue {
        var ranges: [JSONValue] = []
        if !key.isRoot { ranges.append(EtcdRequest.range(keys.etcdKey(key))) }
        // etcd has no range of direct children: a scope limited in depth reads the subtree and
        // filters.
        if scope != .key {
            let (start, end) = keys.subtree(key)
            ranges.append(EtcdRequest.range(start, end: end))
        }
        return EtcdRequest.txn(compare: [], success: ranges.map { ["request_range": $0] })
    }

    /// The records of a ``snapshotRequest(_:_:scope:)`` reply, sorted by key.
    static func snapshotRecords(_ keys: KeySpace, _ key: Key, scope: WatchScope, reply: TxnReply) throws(CoordinationError) -> [Record] {
        var records: [Record] = []
        for index in reply.responses.indices {
            for kv in try reply.range(index) {
                guard let relative = keys.key(for: kv.key), scope.covers(relative, watched: key) else { continue }
                records.append(keys.record(kv, as: relative))
            }
        }
        return records.sorted { $0.key < $1.key }
    }

    /// Segment-wise byte order: a parent precedes its children, which precede its next sibling.
    static func depthFirst(_ lhs: Key, _ rhs: Key) -> Bool {
        lhs.segments.lexicographicallyPrecedes(rhs.segments) { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    // MARK: Writes

    public func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        if key.isRoot { throw CoordinationError.rootRefused("created") }
        try CoordinationLimits.validate(value: value, for: key)
        try CoordinationLimits.validate(create: key, mode: mode)
        if mode.isEphemeral {
            return try await onLiveLease { () async throws(CoordinationError) in try await createOnce(key, value: value, mode: mode) }
        }
        return try await createOnce(key, value: value, mode: mode)
    }

    private func createOnce(_ key: Key, value: [UInt8], mode: CreateMode) async throws(CoordinationError) -> Record {
        do {
            if mode.isSequential {
                return try await sequentialTurns.withTurn(key.parent ?? .root) { () async throws(CoordinationError) in
                    try await createWithAncestors(key, value: value, mode: mode)
                }
            }
            if let record = try await createUnderExistingParents(key, value: value, mode: mode) {
                return record
            }
            return try await createWithAncestors(key, value: value, mode: mode)
        } catch {
            throw annotate(error, key: key)
        }
    }

    /// The common case in one round trip: every ancestor exists and is persistent, the key does
    /// not exist. Returns `nil` when any of that is not so (nothing was written); the full
    /// create then finds out which, makes missing ancestors and names the problem.
    private func createUnderExistingParents(_ key: Key, value: [UInt8], mode: CreateMode) async throws(CoordinationError) -> Record? {
        // The parent alone speaks for every ancestor, as in a transaction's create
        // (OneRequestTransaction): coord never leaves a key without its ancestors (creates make
        // them, a delete refuses a parent or takes its subtree with it, atomically), so a
        // persistent parent has persistent ancestors. Each compare is a read for etcd: a key
        // three levels deep used to cost seven. Directly beneath the namespace, the namespace's
        // keys are the parent.
        var compares: [JSONValue]
        if let parent = key.parent, !parent.isRoot {
            compares = [
                EtcdRequest.compare(keys.etcdKey(parent), .create, .greater, 0), EtcdRequest.compare(keys.etcdKey(parent), .lease, .equal, 0),
            ]
        } else {
            compares = keys.namespaceExists
        }
        compares.append(EtcdRequest.compare(keys.etcdKey(key), .create, .equal, 0))
        let lease = mode.isEphemeral ? try currentLease() : 0
        let put: JSONValue = ["request_put": EtcdRequest.put(keys.etcdKey(key), value: value, lease: lease)]
        let reply = try await txn(EtcdRequest.txn(compare: compares, success: [put]), kind: .write)
        guard reply.succeeded else { return nil }
        return Record(
            key: key, value: value, version: 0, createRevision: reply.revision, modRevision: reply.revision, isEphemeral: lease != 0,
            ownerSession: SessionKeeper.owner(ofLease: lease))
    }

    /// Reads the key, its ancestors (the namespace's keys included) and (for a sequential key) its
    /// parent's counter at one revision, then writes the missing ancestors, the counter and the
    /// key in one txn whose compares guarantee nothing it relied on changed meanwhile; on a race,
    /// starts again.
    private func createWithAncestors(_ key: Key, value: [UInt8], mode: CreateMode) async throws(CoordinationError) -> Record {
        let parent = key.parent ?? .root
        let ancestors = keys.namespaceChain + key.ancestors.map(keys.etcdKey)
        let counterKey = keys.counter(of: parent)
        // Past sequence numbers already taken by keys the counter does not know of (copied in
        // by a migration, written by another tool): a sequential name is never refused for them.
        var skipTo: Int64 = 0
        while true {
            var ranges = ancestors.map { EtcdRequest.range($0, keysOnly: true) }
            ranges.append(EtcdRequest.range(keys.etcdKey(key), keysOnly: true))
            if mode.isSequential { ranges.append(EtcdRequest.range(counterKey)) }
            let snapshot = try await read(ranges)

            var compares: [JSONValue] = []
            var puts: [JSONValue] = []
            for (index, ancestor) in ancestors.enumerated() {
                let found = try snapshot.range(index).first
                if let found, found.lease != 0 { throw CoordinationError.ephemeralChildren(keys.key(for: ancestor) ?? .root) }
                compares.append(EtcdRequest.compare(ancestor, .create, .equal, found?.createRevision ?? 0))
                if found == nil { puts.append(["request_put": EtcdRequest.put(ancestor, value: [])]) }
            }
            var target = key
            var counterModRevision: Int64 = 0
            if mode.isSequential {
                let counter = try snapshot.range(ancestors.count + 1).first
                let next = max(try counter.map(Self.counterValue) ?? 0, skipTo)
                counterModRevision = counter?.modRevision ?? 0
                target = try Key(key.path + Key.sequenceSuffix(next))
                compares.append(EtcdRequest.compare(counterKey, .mod, .equal, counterModRevision))
                puts.append(["request_put": EtcdRequest.put(counterKey, value: Array(String(next + 1).utf8))])
            } else if try !snapshot.range(ancestors.count).isEmpty {
                throw CoordinationError.nodeExists(key)
            }
            let lease = mode.isEphemeral ? try currentLease() : 0
            compares.append(EtcdRequest.compare(keys.etcdKey(target), .create, .equal, 0))
            puts.append(["request_put": EtcdRequest.put(keys.etcdKey(target), value: value, lease: lease)])
            let failure: [JSONValue] = [["request_range": EtcdRequest.range(keys.etcdKey(target), countOnly: true)]]
            let reply = try await txn(EtcdRequest.txn(compare: compares, success: puts, failure: failure), kind: .write)
            if reply.succeeded {
                return Record(
                    key: target, value: value, version: 0, createRevision: reply.revision, modRevision: reply.revision,
                    isEphemeral: lease != 0, ownerSession: SessionKeeper.owner(ofLease: lease))
            }
            // The target exists: for a plain key that is the answer; for a sequential one only if
            // the counter did not move (someone created a key with exactly the next name).
            if try reply.count(0) > 0 {
                if !mode.isSequential { throw CoordinationError.nodeExists(key) }
                let counter = try await read([EtcdRequest.range(counterKey, keysOnly: true)]).range(0).first
                if counter?.modRevision ?? 0 == counterModRevision {
                    skipTo = try await highestSequenceNumber(under: key) + 1
                }
            }
        }
    }

    /// The highest number `prefix` + 10 digits among existing keys (prefix is a sequential create's key).
    func highestSequenceNumber(under prefix: Key) async throws(CoordinationError) -> Int64 {
        let start = keys.etcdKey(prefix)
        let found = try await read([EtcdRequest.range(start, end: KeySpace.prefixEnd(start), keysOnly: true)]).range(0)
        var highest: Int64 = -1
        for kv in found where kv.key.count == start.count + CoordinationLimits.sequenceDigits {
            let digits = kv.key[start.count...]
            guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                let number = Int64(String(decoding: digits, as: UTF8.self))
            else { continue }
            highest = max(highest, number)
        }
        return highest
    }

    static func counterValue(_ kv: KeyValue) throws(CoordinationError) -> Int64 {
        guard let text = String(validating: kv.value, as: UTF8.self), let value = Int64(text), value >= 0 else {
            throw CoordinationError(
                .unavailable, "the sequence counter \(String(decoding: kv.key, as: UTF8.self)) holds no number",
                backendDetail: "counter value: \(Gateway.excerpt(kv.value))")
        }
        return value
    }

    public func set(_ key: Key, value: [UInt8], ifVersion: Int64?) async throws -> Record {
        if key.isRoot { throw CoordinationError.rootRefused("set") }
        try CoordinationLimits.validate(value: value, for: key)
        let etcdKey = keys.etcdKey(key)
        // The previous key-value gives the record's version, creation and lease; keeping the
        // lease keeps an ephemeral key ephemeral.
        let put = EtcdRequest.put(etcdKey, value: value, ignoreLease: true, previous: true)
        let previous: JSONValue?
        let revision: Int64
        do throws(CoordinationError) {
            if let ifVersion, Self.noKeyHas(version: ifVersion) {
                try await refuse(key, atVersionNoKeyHas: ifVersion)
            } else if let ifVersion {
                // The version compare also says that the key exists (etcd's version is at least 1).
                var reply: TxnReply
                repeat {
                    reply = try await txn(EtcdRequest.txn(
                        compare: [EtcdRequest.compare(etcdKey, .version, .equal, ifVersion + 1)], success: [["request_put": put]]),
                        kind: .write)
                    if !reply.succeeded { try await refusal(of: key, ifVersion: ifVersion, childrenBetween: nil) }
                } while !reply.succeeded
                previous = reply.responses.first?["response_put"]?["prev_kv"]
                revision = reply.revision
            } else {
                // A plain put, not a txn (which costs etcd twice the CPU): with `ignore_lease` etcd
                // itself refuses a key that does not exist ("key not found", read as noNode), in
                // the same atomic step as the write.
                let reply = try await call("/v3/kv/put", put, kind: .write)
                previous = reply["prev_kv"]
                guard let header = reply["header"]?["revision"]?.int64Value else {
                    throw CoordinationError.gateway(.malformed("a put reply without a header revision"), kind: .write, key: key)
                }
                revision = header
            }
        } catch where error.code == .noNode {
            throw CoordinationError.noNode(key)
        } catch {
            throw annotate(error, key: key)
        }
        guard let previous else {
            throw CoordinationError.gateway(.malformed("a put reply without the previous key-value"), kind: .write, key: key)
        }
        let before = try KeyValue(json: previous, from: .write)
        return Record(
            key: key, value: value, version: before.version, createRevision: before.createRevision,
            modRevision: revision, isEphemeral: before.lease != 0, ownerSession: SessionKeeper.owner(ofLease: before.lease))
    }

    public func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
        let (childrenStart, childrenEnd) = keys.subtree(key)
        let (countersStart, countersEnd) = keys.counters(beneath: key)
        if key.isRoot {
            guard recursive else {
                throw CoordinationError.rootDeleteRefused()
            }
            try await deleteNamespaceContents()
            return
        }
        if let ifVersion, Self.noKeyHas(version: ifVersion) { try await refuse(key, atVersionNoKeyHas: ifVersion) }
        let etcdKey = keys.etcdKey(key)
        // A version compare also says that the key exists (etcd's version is at least 1). A
        // plain delete of a childless key compares nothing about the key itself: how many keys it
        // deleted says whether it existed (a txn that deletes nothing writes nothing), one read
        // less for etcd. A recursive one compares, lest it delete keys another tool left beneath
        // a missing key.
        var compares: [JSONValue] = []
        if let ifVersion {
            compares.append(EtcdRequest.compare(etcdKey, .version, .equal, ifVersion + 1))
        } else if recursive {
            compares.append(EtcdRequest.compare(etcdKey, .create, .greater, 0))
        }
        var success: [JSONValue] = [
            ["request_delete_range": EtcdRequest.deleteRange(etcdKey)],
            keys.counterDeletion(of: key),
        ]
        if recursive {
            // Everything beneath goes in the same txn: atomic, which the contract does not even require.
            success.append(["request_delete_range": EtcdRequest.deleteRange(childrenStart, end: childrenEnd)])
            success.append(["request_delete_range": EtcdRequest.deleteRange(countersStart, end: countersEnd)])
        } else {
            // No key may exist beneath: an empty range compares as one all-zero key.
            compares.append(EtcdRequest.compare(childrenStart, end: childrenEnd, .create, .equal, 0))
        }
        while true {
            let reply: TxnReply
            do {
                reply = try await txn(EtcdRequest.txn(compare: compares, success: success), kind: .write)
            } catch {
                throw annotate(error, key: key)
            }
            if reply.succeeded {
                if try reply.deleted(0) == 0 { throw CoordinationError.noNode(key) }
                counterGuesses.remember([(key, .absent)], at: reply.revision)
                return
            }
            try await refusal(of: key, ifVersion: ifVersion, childrenBetween: recursive ? nil : (childrenStart, childrenEnd))
        }
    }

    /// A version no key can have: negative, or too large to be etcd's version less one. A
    /// compare at it would be wrong (at -1 it holds for a missing key) or overflow, so the store
    /// answers from a read instead, as for any version that does not match.
    static func noKeyHas(version: Int64) -> Bool { version < 0 || version == .max }

    /// A write at a version no key has: `noNode` when the key is missing, else `versionConflict`.
    private func refuse(_ key: Key, atVersionNoKeyHas version: Int64) async throws(CoordinationError) -> Never {
        // Any existing key is at another version, so the read names the refusal; only a reply
        // that does not make sense gets past it.
        try await refusal(of: key, ifVersion: version, childrenBetween: nil)
        throw CoordinationError(.unavailable, "etcd reported key \(key) at version \(version), which no key can have", key: key)
    }

    /// Why a write's compares failed, read after it at one revision (a txn without a failure
    /// branch costs the gateway less, and most writes succeed): the key missing, at another
    /// version, or with keys beneath it. Returns when none of these holds any more (the key
    /// changed in between): the caller tries again.
    private func refusal(of key: Key, ifVersion: Int64?, childrenBetween children: ([UInt8], [UInt8])?) async throws(CoordinationError) {
        var reads = [EtcdRequest.range(keys.etcdKey(key), keysOnly: true)]
        if let children { reads.append(EtcdRequest.range(children.0, end: children.1, countOnly: true)) }
        let found: TxnReply
        do {
            found = try await read(reads)
        } catch {
            throw annotate(error, key: key)
        }
        guard let current = try found.range(0).first else { throw CoordinationError.noNode(key) }
        if let ifVersion, current.version - 1 != ifVersion {
            throw CoordinationError.versionConflict(key, expected: ifVersion, actual: current.version - 1)
        }
        if children != nil, try found.count(1) > 0 { throw CoordinationError.notEmpty(key) }
    }

    // MARK: Sessions

    public func sessionEvents() -> AsyncStream<SessionEvent> { keeper.events.subscribe() }

    public var session: SessionEvent { keeper.events.current }

    /// Test seam: drops every watch's stream and holds it disconnected until called with `false`.
    func pauseWatches(_ paused: Bool) { watches.setPaused(paused) }

    /// The lease id of the current session, for tests that revoke it from outside.
    public var leaseID: Int64? { keeper.lease }

    public func close() async {
        guard !isClosed.exchange(true, ordering: .relaxed) else { return }
        watches.closeAll()
        await keeper.close()
        loop.close()
    }
}

extension EtcdStore: UnwrittenParentListing {
    public func namesBeneath(_ key: Key) async throws -> NamesBeneath {
        let listing = try await listing(of: key, collectingUnwritten: true)
        return NamesBeneath(keyExists: listing.exists, keys: listing.names, unwritten: listing.unwritten)
    }
}

extension EtcdStore: ForeignKeyListing {
    public func foreignKeys(under key: Key) async throws -> [String] {
        let (start, end) = keys.subtree(key)
        let reply = try await read([EtcdRequest.range(start, end: end, keysOnly: true)])
        let namespaceBytes = namespace.isRoot ? 0 : namespace.path.utf8.count
        return try keys.partition(reply.range(0)).foreign.map { String(decoding: $0[namespaceBytes...], as: UTF8.self) }
    }
}
