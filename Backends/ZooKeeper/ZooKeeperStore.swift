import CZooKeeper
public import Coordination
import Foundation
public import Logging
import Synchronization

/// The store contract on ZooKeeper, over the C client's asynchronous API (libzookeeper-mt).
///
/// Keys are plain znodes: key `/a/b` in namespace `/ns` is the znode `/ns/a/b`, so every other
/// ZooKeeper tool sees the data as it is. The namespace is an explicit prefix (not a chroot); its
/// znode is created when the store opens and again whenever a create finds it gone. With digest
/// credentials every node this store creates is creator-only (`auth` ACL); without, open.
public final class ZooKeeperStore: CoordinationStore {
    public let namespace: Key
    public let configuration: ZooKeeperConfiguration
    let connection: ZooKeeperConnection
    let logger: Logger
    /// One ZooKeeper watch per key and scope, however many subscribe to it.
    let watchHub = WatchHub()
    /// Test seam: holds a watch stream's round of re-reads until a test lets it go.
    let watchRoundHold = WatchRoundHold()
    /// Ephemeral-sequential znodes this handle knows it created, so that the search after a lost
    /// create reply never claims one of them twice (see ``create(_:value:mode:)``).
    let ownSequentialNodes = Mutex(OwnNodes())

    /// The ephemeral-sequential znodes of the current session this handle has returned to a caller.
    /// Entries of an earlier session are dropped: its ephemerals are gone.
    ///
    /// A znode is known by its path and its creation zxid: once its parent is deleted and created
    /// again, the same name is given to a new znode, which must not pass for the old one. (An
    /// entry left by a znode deleted in a transaction, recursively or by another handle once
    /// made the create that reused its name look taken, and leave that znode behind.)
    struct OwnNodes {
        private var session: Int64 = 0
        private var nodes: [String: Int64] = [:]

        /// Records the znode as returned; `false` when it already was (claimed by someone else).
        mutating func claim(_ path: String, created: Int64, session current: Int64) -> Bool {
            if current != session {
                session = current
                nodes = [:]
            }
            if nodes[path] == created { return false }
            nodes[path] = created
            return true
        }
        func contains(_ path: String, created: Int64) -> Bool { nodes[path] == created }
        mutating func remove(_ path: String) { nodes[path] = nil }
        var count: Int { nodes.count }
    }

    /// Claims the znode created at `created` (its czxid) for a caller (see ``OwnNodes``).
    func claim(_ znode: Key, created: Int64) -> Bool {
        let session = connection.currentSessionID()
        return ownSequentialNodes.withLock { $0.claim(znode.path, created: created, session: session) }
    }

    /// Opens a handle and waits for its first session.
    /// - Throws: `invalidConfiguration` for a malformed host, a session timeout outside
    ///   ``CoordinationLimits/sessionTTLRange`` or credentials not in pairs (a user without a
    ///   password or with an empty one, a password without a user); `unavailable` when no server answers within the
    ///   session timeout (at most ``firstSessionWait``); `permissionDenied` when the namespace
    ///   cannot be created with these credentials.
    public init(configuration: ZooKeeperConfiguration, logger: Logger = Logger(label: "coordination.zookeeper")) async throws {
        // Checked here too, for configurations built by hand: the C client cannot tell a user.
        try CoordinationLimits.validate(sessionTTL: configuration.sessionTimeout)
        try StoreCredentials.requirePair(user: configuration.user, password: configuration.password, for: "ZooKeeper")
        var configuration = configuration
        configuration.hosts = try HostPort.normalized(configuration.hosts, defaultPort: ZooKeeperConfiguration.defaultPort)
        self.configuration = configuration
        self.namespace = configuration.namespace
        self.logger = logger
        connection = ZooKeeperConnection(
            settings: .init(
                connectString: configuration.connectString, sessionTimeout: configuration.sessionTimeout,
                digest: configuration.digest),
            logger: logger)
        do {
            // zookeeper_init resolves host names, which may block: not on the cooperative pool.
            let connection = self.connection
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                Thread.detachNewThread { continuation.resume(with: Result { try connection.start() }) }
            }
            let firstWait = min(max(configuration.sessionTimeout, .seconds(2)), Self.firstSessionWait)
            try await connection.waitUntilLive(timeout: firstWait)
            if !namespace.isRoot { try await ensureNamespace(waitingAtMost: firstWait) }
        } catch {
            await connection.close()
            throw error
        }
        logger.debug("opened ZooKeeper store", metadata: ["store": "\(configuration)", "session": "\(session.sessionID)"])
    }

    /// Creates the namespace's znodes, again (twice at most) after the connection was lost under
    /// the request. A server that enforces authentication answers an anonymous handle's first
    /// request and closes the connection at once; when the client has sent more meanwhile, that
    /// close resets the connection, which can discard the answer unread, and the opening failed
    /// with `connectionLoss` where the answer said `unauthenticated` (seen once, under load). The
    /// session is over then, and the connection starts a new one, in which the request is asked again.
    private func ensureNamespace(waitingAtMost wait: Duration) async throws {
        var attempt = 1
        while true {
            do {
                try await ensurePath(namespace)
                return
            } catch let error as CoordinationError where [.connectionLoss, .sessionExpired].contains(error.code) && attempt < 3 {
                logger.debug("creating the namespace lost its connection; asking again", metadata: ["error": "\(error)"])
                // The loss reaches the session's state a little after the call's failure.
                try await Task.sleep(for: .milliseconds(100 * attempt))
                try await connection.waitUntilLive(timeout: wait)
                attempt += 1
            }
        }
    }

    /// The longest opening waits for a first session, however long the session timeout: a server
    /// that gives none in this time is not about to, and a TTL of hours must not mean hours of silence.
    public static let firstSessionWait: Duration = .seconds(30)

    /// Opens a handle for a `zookeeper://` URL.
    public convenience init(url: StoreURL, logger: Logger = Logger(label: "coordination.zookeeper")) async throws {
        try await self.init(configuration: ZooKeeperConfiguration(url: url), logger: logger)
    }

    // MARK: Paths

    /// The absolute znode of `key`.
    func znode(_ key: Key) -> Key { namespace.appending(key) }

    /// `znode` relative to the namespace, for records and errors.
    func key(ofZnode znode: Key) -> Key { znode.relative(to: namespace) ?? znode }

    /// A znode path the server gave back, as a key. Segments are checked one by one: the whole
    /// path includes the namespace, so it may be longer than the portable limit for keys.
    static func znodeKey(_ path: String) -> Key? { Key(storedPath: path) }

    /// The child `name` of `key` (relative to the namespace) when a ``Key`` can name it: its
    /// segment is valid, the whole key fits the length limit, and it is not `/zookeeper`. Reads and
    /// watches pass over the other znodes (another client's), as etcd's pass over such keys.
    static func namedChild(of key: Key, _ name: String) -> Key? { try? key.child(name) }

    func fail(_ rc: Int32, _ znode: Key, _ operation: String) -> CoordinationError {
        ZooKeeperReturnCode.error(
            rc, key: key(ofZnode: znode), during: operation, namespace: namespace, identity: identity, server: refusingServer)
    }

    /// The servers this handle's refusals name: its configured hosts.
    var refusingServer: RefusingServer { .zooKeeper(configuration.hosts) }

    /// Who this handle is to the server, for an ACL refusal's words.
    var identity: ACLRefusal.Identity {
        guard let user = configuration.user, configuration.digest != nil else { return .anonymous }
        return .digest(user: user)
    }

    /// ``fail(_:_:_:)`` for a read: lost contact makes it `unavailable`, as on the other backends;
    /// only a write's outcome can be unknown (`connectionLoss`). A timeout stays one, said without a write.
    func failRead(_ rc: Int32, _ znode: Key, _ operation: String) -> CoordinationError {
        var error = fail(rc, znode, operation)
        if error.code == .connectionLoss {
            error.code = .unavailable
            error.message = "lost contact with ZooKeeper during \(operation) \(key(ofZnode: znode)); nothing was read"
        } else if error.code == .timeout {
            error.message =
                "ZooKeeper did not answer in time during \(operation) \(key(ofZnode: znode)); nothing was read: \(ZooKeeperReturnCode.timeoutHint)"
        }
        return error
    }

    /// ``fail(_:_:_:)``, except that a version refusal (`ZBADVERSION`, which names no version)
    /// says which version the key is at now, read after it, as the other backends say it.
    func fail(_ rc: Int32, _ znode: Key, _ operation: String, expected version: Int64?) async -> CoordinationError {
        let error = fail(rc, znode, operation)
        guard rc == ZBADVERSION.rawValue, let version else { return error }
        let key = key(ofZnode: znode)
        let now = await statNode(znode)
        var conflict = CoordinationError.versionConflict(key, expected: version, actual: now.stat.map { Int64($0.version) })
        conflict.backendDetail = error.backendDetail
        return conflict
    }

    var acl: UnsafePointer<ACL_vector> {
        configuration.digest == nil ? coordination_zoo_open_acl() : coordination_zoo_creator_all_acl()
    }

    /// ZooKeeper versions are 32-bit, and -1 means "any": a version no node can be at becomes -2,
    /// which never matches, so the server answers `ZBADVERSION` or `ZNONODE` as it should.
    static func zkVersion(_ version: Int64?) -> Int32 {
        guard let version else { return -1 }
        guard version >= 0, version <= Int64(Int32.max) else { return -2 }
        return Int32(version)
    }

    func record(_ znode: Key, value: [UInt8], stat: Stat) -> Record {
        Record(
            key: key(ofZnode: znode), value: value, version: Int64(stat.version), createRevision: stat.czxid,
            modRevision: stat.mzxid, isEphemeral: stat.ephemeralOwner != 0,
            ownerSession: stat.ephemeralOwner != 0 ? SessionMachine.describe(stat.ephemeralOwner) : nil)
    }

    // MARK: Calls on the C client (one per C entry point)

    func getNode(_ znode: Key) async -> Reply {
        await connection.call { zh, context in
            znode.path.withCString { zoo_aget(zh, $0, 0, completeData, context) }
        }
    }

    func statNode(_ znode: Key) async -> Reply {
        await connection.call { zh, context in
            znode.path.withCString { zoo_aexists(zh, $0, 0, completeStat, context) }
        }
    }

    func listNode(_ znode: Key) async -> Reply { await listNode(path: znode.path) }

    /// Lists the children of the znode at `path`, which need not be a key (another client's).
    func listNode(path: String) async -> Reply {
        await connection.call { zh, context in
            path.withCString { zoo_aget_children(zh, $0, 0, completeStrings, context) }
        }
    }

    func createNode(_ znode: Key, value: [UInt8], flags: Int32) async -> Reply {
        let acl = self.acl
        return await connection.call(throughLeader: true) { zh, context in
            znode.path.withCString { path in
                Self.withValue(value) { bytes, length in
                    zoo_acreate2(zh, path, bytes, length, acl, flags, completeStringStat, context)
                }
            }
        }
    }

    func setNode(_ znode: Key, value: [UInt8], version: Int32) async -> Reply {
        await connection.call(throughLeader: true) { zh, context in
            znode.path.withCString { path in
                Self.withValue(value) { bytes, length in zoo_aset(zh, path, bytes, length, version, completeStat, context) }
            }
        }
    }

    func deleteNode(_ znode: Key, version: Int32) async -> Reply { await deleteNode(path: znode.path, version: version) }

    /// Deletes the znode at `path`, which need not be a key (another client's).
    func deleteNode(path: String, version: Int32) async -> Reply {
        await connection.call(throughLeader: true) { zh, context in
            path.withCString { zoo_adelete(zh, $0, version, completeVoid, context) }
        }
    }

    /// Passes `value` as the C client wants it. An empty value is sent as zero bytes (never as a
    /// null buffer), so other clients read `b""` rather than `None`.
    static func withValue<R>(_ value: [UInt8], _ body: (UnsafePointer<CChar>, Int32) -> R) -> R {
        if value.isEmpty {
            var empty: CChar = 0
            return withUnsafePointer(to: &empty) { body($0, 0) }
        }
        return value.withUnsafeBytes { body($0.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(value.count)) }
    }

    // MARK: Reads

    public func get(_ key: Key) async throws -> Record? {
        if key.isRoot { throw CoordinationError.rootRefused("read") }
        let znode = znode(key)
        let reply = await getNode(znode)
        switch reply.rc {
        case ZOK.rawValue: return record(znode, value: reply.data ?? [], stat: reply.stat!)
        case ZNONODE.rawValue: return nil
        default: throw failRead(reply.rc, znode, "get")
        }
    }

    public func exists(_ key: Key) async throws -> Bool {
        if key.isRoot {
            if connection.isClosed { throw CoordinationError.closed() }
            return true
        }
        let znode = znode(key)
        let reply = await statNode(znode)
        switch reply.rc {
        case ZOK.rawValue: return true
        case ZNONODE.rawValue: return false
        default: throw failRead(reply.rc, znode, "exists")
        }
    }

    public func children(of key: Key) async throws -> [String] {
        let znode = znode(key)
        let reply = await listNode(znode)
        switch reply.rc {
        case ZOK.rawValue:
            // A name no key can hold (another client's znode, or ZooKeeper's own `/zookeeper`) is
            // no child, as on etcd: listed, it would be one that no read could then name.
            return Key.sortedNames((reply.names ?? []).filter { Self.namedChild(of: key, $0) != nil })
        case ZNONODE.rawValue where key.isRoot:
            return []  // the namespace's znode was removed from outside: an empty namespace
        default:
            throw failRead(reply.rc, znode, "list children of")
        }
    }

    public func walk(_ key: Key) -> AsyncThrowingStream<Record, any Error> {
        TreeWalk.walk(self, from: key)
    }

    // MARK: Writes

    static func flags(for mode: CreateMode) -> Int32 {
        switch mode {
        case .persistent: ZOO_PERSISTENT
        case .ephemeral: ZOO_EPHEMERAL
        case .sequential: ZOO_PERSISTENT_SEQUENTIAL
        case .ephemeralSequential: ZOO_EPHEMERAL_SEQUENTIAL
        }
    }

    /// Creates `key`, making missing ancestors first.
    ///
    /// Protected ephemeral-sequential creation: when the reply to such a create is lost
    /// (`ZCONNECTIONLOSS`), the node may or may not exist, and nobody would ever delete it. Instead of
    /// Curator's marker in the name (which would break the contract's `prefix + 10 digits` names),
    /// the store waits for the session to come back (for as long as it can still be alive, a TTL
    /// after its last confirmed contact; then `connectionLoss`) and looks under the parent for a node with the
    /// same prefix, owned by this session, holding the same value, that it has not already returned:
    /// if there is one, it is this create's node; if not, the create never happened and is retried.
    /// Two identical creates in flight at once are interchangeable, so either may claim either node.
    public func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        if key.isRoot { throw CoordinationError.rootRefused("created") }
        try CoordinationLimits.validate(value: value, for: key)
        try CoordinationLimits.validate(create: key, mode: mode)
        let znode = znode(key)
        var attempts = 0
        while true {
            attempts += 1
            let reply = await createNode(znode, value: value, flags: Self.flags(for: mode))
            switch reply.rc {
            case ZOK.rawValue:
                let created = reply.path.flatMap(Self.znodeKey) ?? znode
                if mode == .ephemeralSequential && !claim(created, created: reply.stat!.czxid) {
                    // A concurrent recovery of an identical create (same prefix, value and
                    // session) took this node: take the one it left, or create anew.
                    if let other = try await findLostSequentialNode(znode, value: value) { return other }
                    continue
                }
                return record(created, value: value, stat: reply.stat!)
            case ZNODEEXISTS.rawValue where mode.isSequential && attempts < 64:
                // The number ZooKeeper chose is a plain key's name: move the count past it.
                try await skipSequence(under: key.parent ?? .root)
            case ZNONODE.rawValue where attempts < 8:
                // A missing ancestor; a concurrent delete may undo it again, hence the bounded retry.
                if let parent = znode.parent, !parent.isRoot { try await ensurePath(parent) }
            case ZCONNECTIONLOSS.rawValue where mode == .ephemeralSequential && attempts < 8:
                if let found = try await findLostSequentialNode(znode, value: value) { return found }
            default:
                throw ZooKeeperReturnCode.hintingAtRequestLimit(fail(reply.rc, znode, "create"), requestBytes: znode.path.utf8.count + value.count)
            }
        }
    }

    /// Makes `znode` and its missing ancestors as empty persistent znodes, deepest first attempt:
    /// only the missing levels are written, so an existing parent owned by someone else is never touched.
    func ensurePath(_ znode: Key) async throws {
        var pending = [znode]
        // Each missing level costs one noNode, and a concurrent delete a few more. (A fixed 64
        // refused keys 66 levels deep with a misleading noNode.)
        var budget = znode.depth + 16
        while let next = pending.last {
            let reply = await createNode(next, value: [], flags: ZOO_PERSISTENT)
            switch reply.rc {
            case ZOK.rawValue, ZNODEEXISTS.rawValue:
                pending.removeLast()
            case ZNONODE.rawValue where budget > 0:
                budget -= 1
                guard let parent = next.parent, !parent.isRoot else { throw fail(reply.rc, next, "create") }
                pending.append(parent)
            default:
                throw fail(reply.rc, next, "create")
            }
        }
    }

    /// After a lost ephemeral-sequential create reply: the node it made, if it made one.
    func findLostSequentialNode(_ znode: Key, value: [UInt8]) async throws -> Record? {
        guard let parent = znode.parent else { return nil }
        for _ in 0..<8 {
            try await waitForSession(creating: znode)
            let session = connection.currentSessionID()
            let listing = await listNode(parent)
            if listing.rc == ZNONODE.rawValue { return nil }
            if listing.rc == ZCONNECTIONLOSS.rawValue { continue }
            guard listing.rc == ZOK.rawValue else { throw fail(listing.rc, parent, "list children of") }
            let prefix = znode.name
            let candidates = Key.sortedNames(listing.names ?? []).filter { name in
                name.utf8.count == prefix.utf8.count + CoordinationLimits.sequenceDigits && name.hasPrefix(prefix)
                    && name.utf8.suffix(CoordinationLimits.sequenceDigits).allSatisfy { (48...57).contains($0) }
            }
            var lost = false
            for name in candidates {
                guard let candidate = parent.appending(storedName: name) else { continue }
                let reply = await getNode(candidate)
                if reply.rc == ZCONNECTIONLOSS.rawValue { lost = true; break }
                guard reply.rc == ZOK.rawValue, let stat = reply.stat else { continue }
                guard stat.ephemeralOwner == session, reply.data ?? [] == value else { continue }
                if claim(candidate, created: stat.czxid) {
                    logger.debug("recovered an ephemeral-sequential create after a lost reply", metadata: ["key": "\(key(ofZnode: candidate))"])
                    return record(candidate, value: value, stat: stat)
                }
            }
            if !lost { return nil }
        }
        throw fail(ZCONNECTIONLOSS.rawValue, znode, "create")
    }

    /// Waits until the session is usable again, for as long as it can still be alive: while
    /// contact is lost, until a TTL after its last confirmed contact (clause 7), since only the
    /// server can say it expired and a server out of reach never does.
    /// - Throws: `sessionExpired` when it expired (its ephemerals are gone); `connectionLoss`
    ///   (about `znode`) when contact is not back in time; `closed`; `CancellationError`.
    func waitForSession(creating znode: Key) async throws {
        let sessions = connection.sessions
        let outcome: SessionState? = await withTaskGroup(of: SessionState?.self) { group in
            group.addTask {
                for await event in sessions.subscribe() where event.state != .suspended { return event.state }
                return nil
            }
            let current = sessions.current
            if current.state == .suspended {
                group.addTask {
                    try? await Task.sleep(until: current.lastContact + current.ttl, clock: .continuous)
                    return Task.isCancelled ? nil : .suspended
                }
            }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
        switch outcome {
        case .connected, .reconnected: return
        case .expired: throw ZooKeeperReturnCode.error(ZSESSIONEXPIRED.rawValue, key: nil, during: "create")
        case .suspended:
            var error = fail(ZCONNECTIONLOSS.rawValue, znode, "create")
            error.message += " (no contact for the session's TTL: a key it made goes with the session)"
            throw error
        case .closed, nil:
            try Task.checkCancellation()
            throw CoordinationError.closed()
        }
    }

    public func set(_ key: Key, value: [UInt8], ifVersion: Int64?) async throws -> Record {
        if key.isRoot { throw CoordinationError.rootRefused("set") }
        try CoordinationLimits.validate(value: value, for: key)
        let znode = znode(key)
        let reply = await setNode(znode, value: value, version: Self.zkVersion(ifVersion))
        guard reply.rc == ZOK.rawValue, let stat = reply.stat else {
            throw ZooKeeperReturnCode.hintingAtRequestLimit(
                await fail(reply.rc, znode, "set", expected: ifVersion), requestBytes: znode.path.utf8.count + value.count)
        }
        return record(znode, value: value, stat: stat)
    }

    public func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
        try await delete(key, ifVersion: ifVersion, recursive: recursive, progress: nil)
    }

    /// ``delete(_:ifVersion:recursive:)``, telling `progress` how far a recursive one has got
    /// (see ``RecursiveDeleteReporting``).
    func delete(
        _ key: Key, ifVersion: Int64?, recursive: Bool, progress: (@Sendable (RecursiveDeleteProgress) -> Void)?
    ) async throws {
        let znode = znode(key)
        if !recursive {
            if key.isRoot { throw CoordinationError.rootDeleteRefused() }
            let reply = await deleteNode(znode, version: Self.zkVersion(ifVersion))
            guard reply.rc == ZOK.rawValue else { throw await fail(reply.rc, znode, "delete", expected: ifVersion) }
            forget(znode.path)
            return
        }
        if key.isRoot {
            if try await deleteListedTree(znode.path, version: -1, keepTop: true, progress: progress) { return }
            try await deleteChildren(of: znode.path, named: znode, top: true)
            return
        }
        if let ifVersion {
            let reply = await statNode(znode)
            guard reply.rc == ZOK.rawValue, let stat = reply.stat else { throw fail(reply.rc, znode, "delete") }
            guard Int64(stat.version) == ifVersion else { throw await fail(ZBADVERSION.rawValue, znode, "delete", expected: ifVersion) }
        }
        let version = Self.zkVersion(ifVersion)
        if try await deleteListedTree(znode.path, version: version, keepTop: false, progress: progress) { return }
        try await deleteTree(znode.path, named: znode, version: version, top: true)
    }

    /// Deletes the znode at `path` and everything beneath it, children first (siblings in reverse
    /// byte order, as every backend reports a recursive delete): also the znodes no
    /// key can name (another client's), as etcd's range delete removes such keys, since the tree
    /// could not go otherwise. Keys created concurrently are caught by retrying on `ZNOTEMPTY`;
    /// keys deleted concurrently are fine. Errors name `named`: the znode, or the nearest one above.
    private func deleteTree(_ path: String, named: Key, version: Int32, top: Bool) async throws {
        for _ in 0..<16 {
            try await deleteChildren(of: path, named: named, top: top)
            let reply = await deleteNode(path: path, version: version)
            switch reply.rc {
            case ZOK.rawValue:
                forget(path)
                return
            case ZNONODE.rawValue: return  // gone meanwhile: that is what was asked
            case ZNOTEMPTY.rawValue: continue
            default: throw fail(reply.rc, named, "delete")
            }
        }
        throw fail(ZNOTEMPTY.rawValue, named, "delete")
    }

    private func deleteChildren(of path: String, named: Key, top: Bool) async throws {
        let listing = await listNode(path: path)
        switch listing.rc {
        case ZOK.rawValue: break
        case ZNONODE.rawValue:
            if top && path != namespace.path { throw fail(listing.rc, named, "delete") }
            return
        default: throw fail(listing.rc, named, "list children of")
        }
        // Siblings in reverse byte order, each subtree before its root: the order in which the
        // embedded store and etcd report a recursive delete's events (ZooKeeper's listing has none).
        let names = (listing.names ?? []).sorted { $1.utf8.lexicographicallyPrecedes($0.utf8) }
        for (name, child) in Self.childPaths(of: path, names) {
            let childNamed = named.path == path ? named.appending(storedName: name) ?? named : named
            try await deleteTree(child, named: childNamed, version: -1, top: false)
        }
    }

    /// The paths of the children `names` of the znode at `path`, but ZooKeeper's own `/zookeeper`
    /// (at the server's root), which is no data of anyone's.
    static func childPaths(of path: String, _ names: [String]) -> [(name: String, path: String)] {
        guard path == "/" else { return names.map { ($0, path + "/" + $0) } }
        return names.compactMap { $0 == "zookeeper" ? nil : ($0, "/" + $0) }
    }

    /// Drops a deleted znode from ``ownSequentialNodes``, which would otherwise only grow.
    func forget(_ path: String) {
        ownSequentialNodes.withLock { $0.remove(path) }
    }

    // MARK: Session

    public var session: SessionEvent { connection.sessions.current }

    public func sessionEvents() -> AsyncStream<SessionEvent> { connection.sessions.subscribe() }

    public func close() async { await connection.close() }

    /// This handle's session id and password, as ZooKeeper's own clients expose them
    /// (Java's `getSessionId`/`getSessionPasswd`); `nil` when closed.
    public var sessionCredentials: (id: Int64, password: [UInt8])? {
        guard let client = connection.sessionCredentials() else { return nil }
        let password = withUnsafeBytes(of: client.passwd) { Array($0) }
        return (client.client_id, password)
    }
}

extension StoreBackend {
    /// `zookeeper://[user:password@]h1:2181[,h2:2181…][/NAMESPACE][?sessionTimeout=DURATION]`.
    public static var zookeeper: StoreBackend {
        StoreBackend(
            schemes: ["zookeeper"],
            usage: "zookeeper://[USER:PASSWORD@]HOST[:PORT][,…][/NAMESPACE][?sessionTimeout=TIME]",
            // The C client has no version call: its headers' version, from the build.
            client: "libzookeeper-mt " + ZOO_VERSION + " (built against)",
            // Debian's libzookeeper-mt is built without OpenSSL: it has no zookeeper_init_ssl.
            unservedSchemes: [
                "zookeepers":
                    "TLS to ZooKeeper needs a libzookeeper-mt built with OpenSSL, and the one coord is built against has none; "
                    + "reach ZooKeeper with zookeeper:// through a TLS tunnel (stunnel, a service mesh), or use etcds://"
            ],
            check: { url throws(CoordinationError) in _ = try ZooKeeperConfiguration(url: url) }
        ) { url, logger in
            try await ZooKeeperStore(url: url, logger: logger)
        }
    }
}
