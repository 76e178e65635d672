import CZooKeeper
import Coordination

extension ZooKeeperStore {
    /// Watches `key`, its children, its grandchildren, its great-grandchildren or its subtree with
    /// one-shot watches (clause 8).
    ///
    /// The C client of ZooKeeper 3.8 has no persistent recursive watches, so every znode in scope
    /// carries a data watch (and a children watch where its children are in scope: above the
    /// scope's ``WatchScope/depthLimit``, never on an ephemeral znode), re-armed by re-reading
    /// what the event that fired can have changed: the data after a change, the children after a
    /// child event, everything after a create or delete; a scope's top that does not exist carries an
    /// exists watch instead. Each re-read is compared with what the stream last reported and
    /// only the difference is emitted (`put`, `delete`): the same as a fresh snapshot of that znode,
    /// and several changes may coalesce into one event, as ZooKeeper's own watches do; a key created
    /// and deleted again between two re-reads coalesces to nothing and is never reported. After a
    /// reconnect or a new session (watches lost with the old one) the whole scope is re-read,
    /// re-armed and emitted as a new `snapshot`. A snapshot is read level by level, at several
    /// zxids, not at one: a transaction landing between a listing and the reads after it can leave
    /// it holding a state the store was never in (the conformance suite's listed deviation); the
    /// watches armed by those reads report the rest, so the events after it still converge.
    ///
    /// Watches of the same key and scope on one handle share one such watch (``WatchHub``).
    public func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        watchHub.watch(key, scope: scope) { [self] in unsharedWatch(key, scope: scope) }
    }

    /// A watch of its own: one-shot ZooKeeper watches, re-armed after each trigger.
    private func unsharedWatch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        let (stream, output) = AsyncThrowingStream<WatchEvent, any Error>.makeStream()
        guard let registration = connection.register(output) else {
            output.finish(throwing: CoordinationError.closed())
            return stream
        }
        // The connection pushes a resync into it whenever contact is made again, until released.
        let trigger = WatchTrigger()
        connection.retain(trigger)
        // The loop is store calls with bookkeeping in between: on the completion executor each
        // reply and watch trigger continues it where it arrives, one thread wake-up fewer each
        // (claims bench: faster in 10 of 14 pairs, with fewer context switches). Its
        // bookkeeping then holds up the handle's other replies while it runs: a large folder's
        // first listing, or a re-listing in a backlog, delays them by its sorting and diffing.
        let connection = self.connection
        let loop = Task(executorPreference: Self.completionExecutor) { [self] in
            var watcher = ScopeWatcher(store: self, root: znode(key), scope: scope, trigger: trigger, output: output)
            await watcher.run()
            // Every call it made has been answered, so every watch it set is in the C client's
            // tables: forgotten there, then the trigger they name is let go.
            watcher.forgetWatches()
            connection.release(trigger)
        }
        output.onTermination = { _ in
            loop.cancel()
            connection.unregister(registration)
        }
        return stream
    }

    func watchExists(_ znode: Key, _ trigger: WatchTrigger) async -> Reply {
        let watcherContext = trigger.context
        return await connection.call { zh, context in
            znode.path.withCString { zoo_awexists(zh, $0, watchTriggered, watcherContext, completeStat, context) }
        }
    }

    func watchData(_ znode: Key, _ trigger: WatchTrigger) async -> Reply {
        let watcherContext = trigger.context
        return await connection.call { zh, context in
            znode.path.withCString { zoo_awget(zh, $0, watchTriggered, watcherContext, completeData, context) }
        }
    }

    /// Reads `reads`' data with data watches and lists `lists`' children with children watches,
    /// every call in flight at once: one round trip, one wake-up, for a whole round of re-reading.
    func watchDataAndChildren(reading reads: [Key], listing lists: [Key], _ trigger: WatchTrigger) async
        -> (data: ArraySlice<Reply>, children: ArraySlice<Reply>)
    {
        await watchRoundHold.pass(reading: reads, listing: lists)
        let watcherContext = trigger.context
        let replies = await connection.callAll(reads.count + lists.count) { index, zh, context in
            if index < reads.count {
                return reads[index].path.withCString { zoo_awget(zh, $0, watchTriggered, watcherContext, completeData, context) }
            }
            return lists[index - reads.count].path.withCString {
                zoo_awget_children(zh, $0, watchTriggered, watcherContext, completeStrings, context)
            }
        }
        return (replies[..<reads.count], replies[reads.count...])
    }
}

/// One watch stream's state: what it has reported, by znode, and how to bring that up to date.
struct ScopeWatcher {
    let store: ZooKeeperStore
    let root: Key
    let scope: WatchScope
    let trigger: WatchTrigger
    let output: AsyncThrowingStream<WatchEvent, any Error>.Continuation
    /// The records last reported, by absolute znode.
    var known: [Key: Record] = [:]
    /// The znodes in `known` (and the namespace's own, which has no record) by parent and name, so
    /// that a child event or a delete touches only its own folder, and a re-listing makes keys only
    /// of the names it has not seen, however many znodes the folder holds.
    var childrenOf: [Key: [String: Key]] = [:]
    /// The keys (as reported) the current burst reported as new to the consumer.
    var newInBurst: Set<Key> = []
    /// Whether the stream read or listed since it last found no signal pending: a delete pending
    /// now may have waited through those reads, which may have found the znode created again.
    var readWhileSignalsWaited = false
    /// The znodes (paths) whose deletions the signals being handled tell after the current one,
    /// with how many times: a read that finds one gone leaves its delete to its own signal.
    var deletionsToldLater: [String: Int] = [:]

    /// What a batch of signals asks to re-read.
    private struct Work {
        var sync: Set<Key> = []
        var reread: Set<Key> = []
        var relist: Set<Key> = []

        var isEmpty: Bool { sync.isEmpty && reread.isEmpty && relist.isEmpty }
    }

    mutating func run() async {
        var wakes = trigger.wakes.makeAsyncIterator()
        var needsSnapshot = true
        while !Task.isCancelled {
            if needsSnapshot {
                do {
                    _ = trigger.takePending()  // the snapshot re-reads (and re-arms) everything
                    try await snapshot()
                    needsSnapshot = false
                } catch {
                    if store.connection.isClosed { return }
                    if let fatal = Self.fatal(error) { return output.finish(throwing: fatal) }
                    // Contact lost mid-read: a reconnect signal will follow; if the session is
                    // already back, try again shortly.
                    if store.session.state == .connected || store.session.state == .reconnected {
                        try? await Task.sleep(for: .milliseconds(50))
                        continue
                    }
                }
            }
            var signals = trigger.takePending()
            if signals.isEmpty {
                readWhileSignalsWaited = false
                guard await wakes.next() != nil else { return }
                signals = trigger.takePending()
            }
            if needsSnapshot || signals.contains(where: \.isResync) {
                needsSnapshot = true
                continue
            }
            var events: [WatchEvent] = []
            newInBurst = []
            do {
                try await handle(signals, into: &events)
                // What was told before the replies just read (ZooKeeper's order) may be older
                // than what they showed: handled with this burst, so that its puts take their
                // places among these. Bounded, so that a busy scope still reports.
                for _ in 0..<8 {
                    let told = trigger.takePending()
                    if told.isEmpty {
                        readWhileSignalsWaited = false
                        break
                    }
                    if told.contains(where: \.isResync) {
                        needsSnapshot = true
                        break
                    }
                    try await handle(told, into: &events)
                }
            } catch {
                if let fatal = Self.fatal(error) { return output.finish(throwing: fatal) }
                needsSnapshot = true
            }
            for event in Self.inStoreOrder(events, new: newInBurst) { output.yield(event) }
        }
    }

    /// Makes the C client forget the watches this stream set: on its top, every znode it knows
    /// (data watches) and every folder it listed (children watches). A znode it forgot had its
    /// watch fire, or was never found, so carries none of this stream's.
    func forgetWatches() {
        var armed = Set(known.keys)
        armed.formUnion(childrenOf.keys)
        armed.insert(root)
        store.connection.forgetWatches(on: armed, of: trigger)
    }

    /// Brings up to date what a burst of signals can have changed, re-reading with every call of a
    /// kind in flight at once.
    private mutating func handle(_ signals: [WatchSignal], into events: inout [WatchEvent]) async throws {
        var work = Work()
        deletionsToldLater = [:]
        for signal in signals where signal.type == ZOO_DELETED_EVENT { deletionsToldLater[signal.path, default: 0] += 1 }
        defer { deletionsToldLater = [:] }
        for signal in signals {
            if signal.type == ZOO_DELETED_EVENT, let count = deletionsToldLater[signal.path] {
                deletionsToldLater[signal.path] = count > 1 ? count - 1 : nil
            }
            // Only znodes in scope carry watches; a signal from beyond (none is expected) is ignored
            // rather than read, since reading would report a key outside the scope.
            guard let node = ZooKeeperStore.znodeKey(signal.path), scope.covers(node, watched: root) else { continue }
            // A znode not read yet (only after a race with its re-creation) is read in full,
            // so that its record is reported before its children and both its watches stand.
            let isRead = node == root || known[node] != nil
            if scope == .key {
                work.sync.insert(root)
                continue
            }
            switch signal.type {
            // A deleted znode needs no read: the same delete fired its parent's children watch,
            // whose re-listing finds a re-created one. Unknown, it was forgotten already (its
            // other watch fired first, or the parent was re-listed). What was signalled before it
            // is read and reported first, else a change made before the delete would reach the
            // consumer after it (store order). Those reads, or earlier ones the signal waited
            // through (a listing of its folder in the batch before), may have come after the
            // znode was created again, re-arming the watch that would tell: its parent is listed again.
            case ZOO_DELETED_EVENT where node != root:
                guard isRead else { break }
                if !work.isEmpty {
                    try await perform(work, into: &events)
                    work = Work()
                }
                guard isKnown(node) else { break }
                forget(node, into: &events)
                if readWhileSignalsWaited, let parent = node.parent { work.relist.insert(parent) }
            case _ where !isRead: work.sync.insert(node)
            // A child event consumed only the children watch; the data watch still stands.
            case ZOO_CHILD_EVENT: work.relist.insert(node)
            // A change consumed only the data watch; the children watch still stands.
            case ZOO_CHANGED_EVENT: work.reread.insert(node)
            // Created (perhaps deleted since): everything about the znode.
            default: work.sync.insert(node)
            }
        }
        try await perform(work, into: &events)
    }

    /// Re-reads what `work` asks, reporting the differences.
    private mutating func perform(_ work: Work, into events: inout [WatchEvent]) async throws {
        var work = work
        if !work.isEmpty { readWhileSignalsWaited = true }
        // What a delete in this burst forgot (itself or an ancestor) is gone or will be found
        // again by its parent's re-listing: reading it here would leave its children unwatched.
        work.reread = work.reread.filter(isKnown)
        work.relist = work.relist.filter(isKnown)
        work.sync = work.sync.filter { node in node == root || node.parent.map(isKnown) == true }
        if work.sync.remove(root) != nil { try await sync(root, into: &events) }
        work.reread.subtract(work.sync)
        work.relist.subtract(work.sync)
        if work.reread.remove(root) != nil { try await reread(root, into: &events) }
        try await explore(syncing: work.sync, rereading: work.reread, relisting: work.relist, into: &events)
    }

    private func isKnown(_ node: Key) -> Bool { node == root || known[node] != nil }

    /// Whether a signal still to be handled tells `node`'s deletion: one taken with the current
    /// burst, after the signal being handled, or one pushed since. A burst's reads can see later
    /// deletes than its signals have told (another handle deleting a tree quickly); forgetting
    /// such a znode when a read finds it gone reported siblings' deletes out of their order.
    private func deletionIsTold(_ node: Key) -> Bool {
        deletionsToldLater[node.path] != nil || trigger.hasPendingDeletion(of: node)
    }

    /// `events` with each run of puts between two deletes in store order: by modRevision (a
    /// coalesced change takes its latest place), a key new to the consumer before its children,
    /// ties as read. A burst reads what it was told of together, in key order, round by round,
    /// so a change made after another could otherwise be reported before it.
    static func inStoreOrder(_ events: [WatchEvent], new: Set<Key>) -> [WatchEvent] {
        var ordered: [WatchEvent] = []
        ordered.reserveCapacity(events.count)
        var run: [(place: Int64, index: Int, record: Record)] = []
        var placeOf: [Key: Int64] = [:]
        func flush() {
            run.sort { ($0.place, $0.index) < ($1.place, $1.index) }
            ordered += run.map { .put($0.record) }
            run.removeAll(keepingCapacity: true)
            placeOf.removeAll(keepingCapacity: true)
        }
        for (index, event) in events.enumerated() {
            guard case .put(let record) = event else {
                flush()
                ordered.append(event)
                continue
            }
            var place = max(record.modRevision, placeOf[record.key] ?? 0)
            if let parent = record.key.parent, new.contains(parent), let parentPlace = placeOf[parent] { place = max(place, parentPlace) }
            placeOf[record.key] = place
            run.append((place, index, record))
        }
        flush()
        return ordered
    }

    /// Whether `node`'s children are in scope, so that it is listed with a children watch: its
    /// depth beneath the root is under the scope's ``WatchScope/depthLimit`` (0 for the key alone,
    /// 1 for children, 2 for grandchildren, 3 for great-grandchildren, none for a subtree), and it is not ephemeral
    /// (ZooKeeper refuses children under one).
    private func listsChildren(_ node: Key, ephemeral: Bool) -> Bool {
        if ephemeral { return false }
        guard let limit = scope.depthLimit else { return true }
        return node.depth - root.depth < limit
    }

    /// Re-reads (and re-arms) the whole scope and reports it as one snapshot.
    private mutating func snapshot() async throws {
        known = [:]
        childrenOf = [:]
        readWhileSignalsWaited = true
        var ignored: [WatchEvent] = []
        try await sync(root, into: &ignored)
        output.yield(.snapshot(known.values.sorted { $0.key < $1.key }))
    }

    /// Re-reads the top of the scope (re-arming its watches), and unless the scope is the key alone
    /// everything beneath it in scope, recording the differences from `known` as events, parents
    /// before children.
    private mutating func sync(_ node: Key, into events: inout [WatchEvent]) async throws {
        guard try await reread(node, into: &events), listsChildren(node, ephemeral: known[node]?.isEphemeral == true) else { return }
        try await explore(syncing: [], rereading: [], relisting: [node], into: &events)
    }

    /// Brings znodes beneath the top up to date, round by round, each round's reads and listings
    /// in flight together:
    /// - `syncing`: read in full: the data (with a data watch), then, where
    ///   ``listsChildren(_:ephemeral:)`` says its children are in scope, the children in the next round;
    /// - `rereading`: the data only (a change consumed the data watch; the children watch stands);
    /// - `relisting`: the children only; the ones gone are reported deleted, the new ones synced.
    ///
    /// A znode's children are found by its listing, which follows its read, so parents are
    /// reported before their children. The deepest level a scope reaches (the children in a
    /// children scope, the grandchildren in a grandchildren scope) has data watches only.
    private mutating func explore(
        syncing: Set<Key>, rereading: Set<Key>, relisting: Set<Key>, into events: inout [WatchEvent]
    ) async throws {
        var syncing = syncing
        var reads = syncing.union(rereading)
        var lists = relisting
        while !reads.isEmpty || !lists.isEmpty {
            let readOrder = reads.sorted()
            let listOrder = lists.sorted()
            let (dataReplies, childReplies) = await store.watchDataAndChildren(reading: readOrder, listing: listOrder, trigger)
            var nextReads: Set<Key> = []
            var nextLists: Set<Key> = []
            for (node, read) in zip(readOrder, dataReplies) {
                if read.rc == ZNONODE.rawValue {
                    if !deletionIsTold(node) { forget(node, into: &events) }
                    continue
                }
                try check(read.rc, node)
                let record = store.record(node, value: read.data ?? [], stat: read.stat!)
                if known[node] != record {
                    childrenOf[node.parent!, default: [:]][node.name] = node
                    if known[node] == nil { newInBurst.insert(record.key) }
                    known[node] = record
                    events.append(.put(record))
                }
                if syncing.contains(node) && listsChildren(node, ephemeral: record.isEphemeral) { nextLists.insert(node) }
            }
            for (node, listing) in zip(listOrder, childReplies) {
                // Forgotten meanwhile (an ancestor's listing in this round found it gone).
                guard isKnown(node) else { continue }
                if listing.rc == ZNONODE.rawValue {
                    if !deletionIsTold(node) { forget(node, into: &events) }
                    continue
                }
                try check(listing.rc, node)
                let names = (listing.names ?? []).filter { !(node.isRoot && $0 == "zookeeper") }
                // A big folder is re-listed whole after every child event, so this pass is per name:
                // one lookup each, and a set of the names only when some known child is missing.
                let current = childrenOf[node] ?? [:]
                let nodeKey = store.key(ofZnode: node)
                var stillThere = 0
                for name in names {
                    if current[name] != nil {
                        stillThere += 1
                    } else if let child = ZooKeeperStore.namedChild(of: nodeKey, name).map(store.znode), known[child] == nil {
                        nextReads.insert(child)
                    }
                }
                if stillThere < current.count {
                    let listed = Set(names)
                    var gone: [Key] = []
                    for (name, child) in current where !listed.contains(name) { gone.append(child) }
                    // A known child's delete is told by its own watch, before this listing's reply
                    // (ZooKeeper's order); while that signal waits, so does the delete, so that the
                    // changes told before it are reported first, and deletes in the order made.
                    for child in gone.sorted() where !deletionIsTold(child) { forget(child, into: &events) }
                }
            }
            syncing = nextReads
            reads = nextReads
            lists = nextLists
        }
    }

    /// Re-reads `node`'s record with a data watch; false when it does not exist. The top of the
    /// scope then gets an exists watch, since no watched parent would see it come back.
    @discardableResult
    private mutating func reread(_ node: Key, into events: inout [WatchEvent]) async throws -> Bool {
        while true {
            // The namespace's own znode is the root key, which has no record.
            if node == store.namespace {
                let exists = await store.watchExists(node, trigger)
                if exists.rc == ZNONODE.rawValue { break }
                try check(exists.rc, node)
                if node != root { childrenOf[node.parent!, default: [:]][node.name] = node }
                return true
            }
            let read = await store.watchData(node, trigger)
            if read.rc == ZOK.rawValue {
                let record = store.record(node, value: read.data ?? [], stat: read.stat!)
                if known[node] != record {
                    if node != root { childrenOf[node.parent!, default: [:]][node.name] = node }
                    if known[node] == nil { newInBurst.insert(record.key) }
                    known[node] = record
                    events.append(.put(record))
                }
                return true
            }
            guard read.rc == ZNONODE.rawValue else { throw store.fail(read.rc, node, "watch") }
            guard node == root else { break }
            let exists = await store.watchExists(node, trigger)
            if exists.rc == ZNONODE.rawValue { break }
            try check(exists.rc, node)  // created again meanwhile: read it
        }
        forget(node, into: &events)
        return false
    }

    /// `node` and everything reported beneath it are gone: deletes, deepest first.
    private mutating func forget(_ node: Key, into events: inout [WatchEvent]) {
        var gone: [Key] = []
        var folders = [node]
        while let folder = folders.popLast() {
            if known[folder] != nil { gone.append(folder) }
            folders += (childrenOf.removeValue(forKey: folder) ?? [:]).values
        }
        if node != root, let parent = node.parent { childrenOf[parent]?[node.name] = nil }
        for key in gone.sorted(by: { $0.depth > $1.depth || ($0.depth == $1.depth && $0 < $1) }) {
            known[key] = nil
            events.append(.delete(store.key(ofZnode: key)))
        }
    }

    /// An error that re-reading will not cure (permission denied, for example) ends the stream;
    /// lost contact and expiry only mean a fresh snapshot once the session is back.
    private static func fatal(_ error: any Error) -> (any Error)? {
        guard let error = error as? CoordinationError else { return error }
        switch error.code {
        case .connectionLoss, .sessionExpired, .timeout, .unavailable: return nil
        default: return error
        }
    }

    private func check(_ rc: Int32, _ node: Key) throws {
        guard rc == ZOK.rawValue else { throw store.fail(rc, node, "watch") }
    }
}
