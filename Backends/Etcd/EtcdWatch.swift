public import Coordination
import Foundation
import Synchronization

extension EtcdStore {
    /// A watch as the contract says (a snapshot, then every change in store order), on a
    /// `/v3/watch` stream of its own that resumes from the last revision it delivered whenever it
    /// drops. A stream whose connection dies without a word (a NAT, proxy or partition that drops
    /// it with no FIN or RST) is noticed within a bound, and resumed the same way:
    /// - whenever the session comes back after being `suspended` (or a new one is `connected`
    ///   after an expiry), every watch of the handle resumes on a new connection, since contact
    ///   lost for the session may have been lost for the watches too: within the moment the
    ///   session reports `reconnected`;
    /// - a peer that stops acknowledging (a host or path gone) ends the connection through TCP
    ///   keep-alive probes: after 5 s idle, every 2 s, so within about 23 s at Linux's default of
    ///   9 probes (`net.ipv4.tcp_keepalive_probes`).
    /// A stream that a middlebox keeps acknowledging while passing nothing on, while the session's
    /// keep-alives go through, is beyond both: etcd 3.4 sends progress notifications only every
    /// 10 minutes by default, too rarely to be an idle limit.
    public func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        watchHub.watch(key, scope: scope) { [self] in unsharedWatch(key, scope: scope) }
    }

    /// A watch of its own: one `/v3/watch` stream on a thread of its own.
    private func unsharedWatch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<WatchEvent, any Error>.makeStream()
        guard let watcher = watches.register(WatchStream(key: key, scope: scope, keys: keys, gateway: gateway, continuation: continuation)) else {
            continuation.finish(throwing: CoordinationError.closed())
            return stream
        }
        continuation.onTermination = { [watches] _ in
            watcher.stop(storeClosed: false)
            watches.remove(watcher)
        }
        watcher.start()
        return stream
    }
}

/// The live watches of a store, so that closing it ends them all with `unavailable`.
final class WatchRegistry: Sendable {
    private let state = Mutex<(watches: [ObjectIdentifier: WatchStream], closed: Bool)>(([:], false))

    func register(_ watch: WatchStream) -> WatchStream? {
        state.withLock { state in
            guard !state.closed else { return nil }
            state.watches[ObjectIdentifier(watch)] = watch
            return watch
        }
    }

    func remove(_ watch: WatchStream) {
        _ = state.withLock { $0.watches.removeValue(forKey: ObjectIdentifier(watch)) }
    }

    /// Resumes every watch on a new connection from its last revision (see ``WatchStream/restart()``).
    func restartAll() {
        for watch in state.withLock({ Array($0.watches.values) }) { watch.restart() }
    }

    /// Test seam: while paused every watch drops its stream and waits, as if disconnected.
    func setPaused(_ paused: Bool) {
        for watch in state.withLock({ Array($0.watches.values) }) { watch.setPaused(paused) }
    }

    func closeAll() {
        let all = state.withLock { state in
            state.closed = true
            defer { state.watches = [:] }
            return Array(state.watches.values)
        }
        for watch in all { watch.stop(storeClosed: true) }
    }
}

/// One watch: a snapshot at revision R, then `/v3/watch` from R + 1 streamed on a thread (and
/// curl connection) of its own. A dropped connection resumes from the last revision seen, so no
/// event is lost or repeated; a compacted revision (etcd `canceled` with `compact_revision`)
/// means events are gone, so a fresh snapshot is sent and watching goes on after it. So does a
/// store whose revision went back below the last one seen (its data wiped, or restored from an
/// older snapshot): resuming there would wait for revisions that are another history's.
/// ``restart()`` resumes it on a new connection the same way (its connection may be dead).
final class WatchStream: Sendable {
    private let key: Key
    private let scope: WatchScope
    private let keys: KeySpace
    private let gateway: Gateway
    private let continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation
    private let stopped = Atomic<Bool>(false)
    private let storeClosed = Atomic<Bool>(false)
    private let paused = Atomic<Bool>(false)
    /// Set by ``restart()``; the stream open when it was set ends, and the next one clears it.
    private let restartRequested = Atomic<Bool>(false)

    init(key: Key, scope: WatchScope, keys: KeySpace, gateway: Gateway, continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation) {
        self.key = key
        self.scope = scope
        self.keys = keys
        self.gateway = gateway
        self.continuation = continuation
    }

    func start() {
        let thread = Thread { [self] in
            let connection = CurlConnection(tls: gateway.tls)
            let failure = run(on: connection)
            if storeClosed.load(ordering: .relaxed) {
                continuation.finish(throwing: CoordinationError.closed())
            } else if let failure {
                continuation.finish(throwing: failure)
            } else {
                continuation.finish()
            }
        }
        thread.name = "etcd-watch"
        thread.start()
    }

    func stop(storeClosed: Bool) {
        if storeClosed { self.storeClosed.store(true, ordering: .relaxed) }
        stopped.store(true, ordering: .relaxed)
    }

    private var isStopped: Bool { stopped.load(ordering: .relaxed) }

    func setPaused(_ paused: Bool) { self.paused.store(paused, ordering: .relaxed) }

    private var isPaused: Bool { paused.load(ordering: .relaxed) }

    /// Ends the current stream (at once, or within a second on an idle one) and resumes from the
    /// last revision delivered on a new connection: nothing lost, nothing repeated.
    func restart() { restartRequested.store(true, ordering: .relaxed) }

    /// Whether the open stream should go on being read.
    private var keepsStreaming: Bool { !isStopped && !isPaused && !restartRequested.load(ordering: .relaxed) }

    /// Runs until stopped; returns an error only for failures retrying cannot fix (credentials).
    private func run(on connection: CurlConnection) -> CoordinationError? {
        var nextRevision: Int64? = nil
        var backoff = Duration.milliseconds(100)
        while !isStopped {
            if isPaused {
                Thread.sleep(forTimeInterval: 0.02)
                continue
            }
            if nextRevision == nil {
                do {
                    // Asking whether the watch was stopped, as the stream does: a server that does
                    // not answer would otherwise hold its end (and a closing handle's) for the
                    // whole request time-out.
                    let reply = try TxnReply(try gateway.call(
                        "/v3/kv/txn", EtcdStore.snapshotRequest(keys, key, scope: scope), on: connection, kind: .read,
                        progress: { [self] in !isStopped }))
                    continuation.yield(.snapshot(try EtcdStore.snapshotRecords(keys, key, scope: scope, reply: reply)))
                    nextRevision = reply.revision + 1
                } catch {
                    if error.code == .unauthenticated || error.code == .permissionDenied {
                        return error.explainingPermission(refusedTo: gateway.userCredentials?.user, keys: keys)
                    }
                    gateway.logger.debug("etcd watch snapshot failed; retrying", metadata: ["error": "\(error)"])
                    pause(&backoff)
                    continue
                }
            }
            let outcome = follow(from: nextRevision!, on: connection)
            switch outcome {
            case .progressed(let next):
                nextRevision = next
                backoff = .milliseconds(100)
            case .stalled(let next):
                nextRevision = next
                pause(&backoff)
            case .compacted:
                nextRevision = nil
            case .rewound(let revision):
                gateway.logger.warning(
                    "etcd's revision went back (its data was replaced or restored): the watch starts over with a fresh snapshot",
                    metadata: ["key": "\(key)", "revision": "\(revision)", "expected": "\(nextRevision! - 1) or more"])
                nextRevision = nil
                // Pausing first: should a member that lags behind answer so, the retry must not spin.
                pause(&backoff)
            case .failed(let error):
                return error
            }
        }
        return nil
    }

    private enum FollowOutcome {
        /// The stream ended after delivering something; resume from this revision at once.
        case progressed(Int64?)
        /// The stream ended without progress (server gone, refused); resume from here after a pause.
        case stalled(Int64?)
        /// The revision to resume from was compacted away: start over with a snapshot.
        case compacted
        /// The store is at this revision, below the last one seen: its history is not the one
        /// the watch followed. Start over with a snapshot.
        case rewound(Int64)
        case failed(CoordinationError)
    }

    private func follow(from revision: Int64, on connection: CurlConnection) -> FollowOutcome {
        let (start, end): ([UInt8], [UInt8]?) =
            scope == .key ? (keys.etcdKey(key), nil) : (keys.etcdKey(key), keys.subtree(key).end)
        var request: [String: JSONValue] = ["key": .bytes(start), "start_revision": .int64(revision)]
        if let end { request["range_end"] = .bytes(end) }

        // A restart asked for before this stream opened is this stream.
        restartRequested.store(false, ordering: .relaxed)
        var next = revision
        var created = false
        var compacted = false
        var rewoundTo: Int64?
        var authFailure = false
        var noLeader = false
        // A refusal that ends the watch; worded once the stream says which member refused.
        var fatal: WatchRefusal?
        // A member of another cluster than the handle's answered: the watch ends with that.
        var foreignCluster: CoordinationError?
        // Events read but not yet yielded, with their revisions (nil: outside the scope).
        var unsent: [(revision: Int64, event: WatchEvent?)] = []
        // What a refusal means for the watch, whichever form it came in (see ``WatchRefusal``).
        func note(_ refusal: WatchRefusal) {
            if refusal.grpcCode == 14, GatewayCall.isNoLeader(refusal.message) {
                noLeader = true
            } else if refusal.grpcCode == 16, gateway.usesAuth {
                authFailure = true
            } else {
                // Credentials missing, wrong or not allowed: trying again cannot cure it, as the
                // snapshot read's refusal cannot.
                let code = CoordinationError.gateway(refusal.failure(at: nil), kind: .read).code
                if code == .unauthenticated || code == .permissionDenied { fatal = refusal }
            }
        }
        // The member this stream goes to, read once: another thread may move the preferred one on.
        let endpoint = gateway.preferredEndpoint
        let sink = ResponseSink()
        sink.shouldContinue = { [self] in keepsStreaming }
        // Whether reading gave up on the stream (a message that ends it, or one not understood):
        // the lines after that one are left unread, and must stay so.
        var gaveUp = false
        sink.onLine = { [self] line in
            guard let message = JSONValue.parse(line) else {
                gateway.logger.debug("etcd watch: unreadable line", metadata: ["line": "\(Gateway.excerpt(Array(line)))"])
                return false  // reconnect from the last revision rather than guess
            }
            if let foreign = gateway.cluster.check(header: message["result"]?["header"], from: gateway.endpoints, index: endpoint, kind: .read) {
                foreignCluster = foreign
                return false
            }
            let reading: WatchMessage
            do {
                reading = try WatchMessage(message)
            } catch {
                // As for an unreadable line: reconnect from the last revision rather than guess.
                gateway.logger.debug(
                    "etcd watch: a message not understood", metadata: ["error": "\(error)", "line": "\(Gateway.excerpt(Array(line)))"])
                return false
            }
            let result: WatchResult
            switch reading {
            case .refusal(let refusal):
                if let refusal { note(refusal) }
                return false
            case .other:
                return !isStopped
            case .result(let read):
                result = read
            }
            if result.created {
                created = true
                // The store's revision now; etcd waits for a start revision still to come.
                if let now = result.headerRevision, now < revision - 1 {
                    rewoundTo = now
                    return false
                }
            }
            if result.canceled {
                if result.compactRevision > 0 {
                    compacted = true
                } else if let reason = result.cancelReason, let refusal = WatchRefusal(cancelReason: reason) {
                    // etcd 3.4's refusal of an expired token, or of a user who may not read here.
                    note(refusal)
                }
                return false
            }
            for event in result.events {
                let kv = event.kv
                let relative = keys.key(for: kv.key).flatMap { scope.covers($0, watched: key) ? $0 : nil }
                let reported: WatchEvent? = relative.map { event.isDelete ? .delete($0) : .put(keys.record(kv, as: $0)) }
                unsent.append((kv.modRevision, reported))
            }
            // etcd sends a revision's events in one response unless the watch asked for
            // fragments (this one does not); should one come split anyway, its events wait for the
            // rest, so that they are reordered together and a resumption never starts mid-revision.
            if result.fragment { return !isStopped }
            var start = unsent.startIndex
            while start < unsent.endIndex {
                let revision = unsent[start].revision
                let end = unsent[start...].firstIndex { $0.revision != revision } ?? unsent.endIndex
                for event in WatchEventOrder.childrenFirst(unsent[start..<end].compactMap(\.event)) {
                    continuation.yield(event)
                }
                next = max(next, revision + 1)
                start = end
            }
            unsent = []
            return keepsStreaming
        }
        if let read = sink.onLine {
            sink.onLine = { line in
                let more = read(line)
                if !more { gaveUp = true }
                return more
            }
        }
        let ending = gateway.stream("/v3/watch", ["create_request": .object(request)], on: connection, sink: sink, endpoint: endpoint)
        // The gateway's last message (its error, when it ends the stream) comes without a newline.
        // Not after reading gave up: the rest is then the lines after the one it stopped at, and
        // one read now would skip that one's events (resuming after the revision it delivered).
        if case .ended = ending, !gaveUp, JSONValue.parse(sink.leftover) != nil, let onLine = sink.onLine {
            _ = onLine(sink.leftover[...])
        }
        if noLeader {
            // The member lost its leader (it is cut off, or an election is under way) and sees no
            // writes until it has one again: resume on the next member.
            gateway.logger.debug(
                "etcd watch: the member has no leader; resuming on the next endpoint",
                metadata: ["endpoint": "\(gateway.endpoints[endpoint])", "revision": "\(next)"])
            gateway.rotateEndpoint(from: endpoint)
        }
        if let foreignCluster {
            gateway.rotateEndpoint(from: endpoint)
            return .failed(foreignCluster)
        }
        if let fatal {
            let error = CoordinationError.gateway(fatal.failure(at: gateway.endpoints[endpoint]), kind: .read)
            return .failed(error.explainingPermission(refusedTo: gateway.userCredentials?.user, keys: keys))
        }
        if compacted { return .compacted }
        if let rewoundTo { return .rewound(rewoundTo) }
        if authFailure {
            do {
                // Asking whether the watch was stopped, as the stream does: a server that takes the
                // login and never answers would otherwise hold a closing handle's watch for the
                // whole request time-out.
                try gateway.authenticate(on: connection, progress: { [self] in !isStopped })
            } catch {
                // A login abandoned because the watch stopped is no failure of the watch's own;
                // nor is one that failed for want of contact (a time-out, an election), which
                // says nothing of the credentials: the stream is tried again, as after a drop.
                if isStopped || !(error.code == .unauthenticated || error.code == .permissionDenied) {
                    gateway.logger.debug("etcd watch login failed; retrying", metadata: ["error": "\(error)"])
                    return .stalled(next)
                }
                return .failed(error)
            }
            return .progressed(next)
        }
        if case .failed(let failure) = ending {
            gateway.logger.debug("etcd watch connection lost; resuming", metadata: ["error": "\(failure.message)", "revision": "\(next)"])
        }
        return created && next > revision ? .progressed(next) : .stalled(next)
    }

    /// Sleeps `backoff` in small steps (so a stop is noticed), then doubles it up to 2 s.
    private func pause(_ backoff: inout Duration) {
        let deadline = ContinuousClock.now.advanced(by: backoff)
        while !isStopped && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        backoff = min(backoff * 2, .seconds(2))
    }
}
