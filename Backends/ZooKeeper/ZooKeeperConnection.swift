import CZooKeeper
import Coordination
import Foundation
import Logging
import Synchronization

/// Owns the C handle (`zhandle_t`) behind a store: submits asynchronous calls on it, turns the
/// global watcher's session events into ``SessionEvent``s through ``SessionMachine``, and replaces
/// the handle by a fresh one when the session expires (the C client never recovers from that).
final class ZooKeeperConnection: Sendable {
    struct Settings: Sendable {
        /// The C client's connect string: `h1:2181,h2:2181`, no chroot (namespaces are prefixes).
        var connectString: String
        var sessionTimeout: Duration
        /// `user:password` for the digest scheme.
        var digest: String?
    }

    /// The C handle and the context its session watcher was given; both live until closed.
    private struct LiveHandle: @unchecked Sendable {
        // The C client is thread-safe; the pointer is only used under `state`'s lock or after it
        // was taken out of it for closing.
        let handle: OpaquePointer
        let context: Unmanaged<HandleContext>
        /// Which handle of the connection it is; the calls in flight on it are filed under it.
        let generation: Int
    }

    private struct State {
        var live: LiveHandle?
        /// Bumped for every new C handle; session events from an older one are ignored.
        var generation = 0
        var machine: SessionMachine
        var closed = false
        var triggers: [UInt: WatchTrigger] = [:]
        var watches: [Int: AsyncThrowingStream<WatchEvent, any Error>.Continuation] = [:]
        var nextWatchID = 0
    }

    let settings: Settings
    let logger: Logger
    let sessions: Broadcast<SessionEvent>
    /// Why a server's handshake reply showed it is not ZooKeeper, once one did: opening fails.
    private let wrongServer = Broadcast<String?>(nil)
    private let state: Mutex<State>
    /// Serialises the sending of session events (see `sessionChanged`).
    private let delivery = Mutex(())
    /// Held while a handle is made and put in place. The C client can report the new handle's
    /// session before `zookeeper_init` even returns; its events wait for this, so that a call
    /// told the session is live finds the new handle, not the dead one it replaces.
    private let installing = Mutex(())
    /// Calls submitted and not answered yet; answered by ``close()`` if the C client does not.
    private let inFlight = InFlightCalls()
    /// Asks the server on a quiet handle (``keepContactCurrent()``); cancelled by ``close()``.
    private let prober = Mutex<Task<Void, Never>?>(nil)
    /// Since when a host was seen serving while the session, past its TTL, stayed suspended,
    /// with that session's id (``watchForRefusal(of:)``).
    private let refusalWatch = Mutex<(sessionID: String, servingSince: ContinuousClock.Instant)?>(nil)
    /// The first ``close()``'s work, which every later one waits for.
    private let closing = Mutex<Task<Void, Never>?>(nil)
    /// Test seam: how many of the next handles to refuse, as `zookeeper_init` refuses one when
    /// no host name resolves.
    private let refusedHandles = Atomic<Int>(0)
    /// Set once a close has released the C handle and answered every call it left.
    private let released = Atomic<Bool>(false)
    /// Test seam: calls waiting for a live session after the handle refused them (`ZINVALIDSTATE`).
    private let waitingCalls = Atomic<Int>(0)
    /// Test seam: how long a replacement handle, once made, waits before it is installed (as a
    /// slow thread would), in milliseconds.
    private let installPauseMilliseconds = Atomic<Int>(0)

    init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        let now = ContinuousClock.now
        sessions = Broadcast(SessionEvent(state: .suspended, sessionID: "", ttl: settings.sessionTimeout, lastContact: now))
        state = Mutex(State(machine: SessionMachine(requestedTTL: settings.sessionTimeout, now: now)))
        ZooKeeperConnection.silenceClientLog
    }

    /// The connect string's `host:port` entries, for the probes.
    var hostAddresses: [String] { settings.connectString.split(separator: ",").map(String.init) }

    /// Once per process: the C client logs to stderr unless told not to.
    private static let silenceClientLog: Void = coordination_zoo_silence_log()

    // MARK: Handles

    /// Starts the first session. Blocks while names resolve: call it on a thread of your own.
    func start() throws(CoordinationError) {
        let live: LiveHandle? = installing.withLock { _ in
            let live = makeHandle(generation: 0)
            if let live { state.withLock { $0.live = live } }
            return live
        }
        guard live != nil else {
            // The C client gives up when no host resolves: a name that may not exist yet (a
            // container starting), which a service waits for, not a malformed string.
            let addresses = hostAddresses
            let failures = addresses.compactMap { address in HostProbe.resolutionFailure(address).map { "\(address): \($0)" } }
            if !failures.isEmpty && failures.count == addresses.count {
                throw CoordinationError(
                    .unavailable,
                    "cannot reach ZooKeeper (\(failures.joined(separator: "; "))); is the URL's host name right?")
            }
            throw CoordinationError(
                .invalidConfiguration, "the ZooKeeper client refused the connect string '\(settings.connectString)'")
        }
        prober.withLock { prober in
            prober = Task { [weak self] in
                var wait = Duration.zero
                while !Task.isCancelled {
                    try? await Task.sleep(for: wait)
                    guard let self else { return }
                    wait = await self.keepContactCurrent()
                }
            }
        }
    }

    /// Keeps the session's last contact current on a handle that writes little: the C client
    /// pings an idle server without saying when a ping was answered, and reads are answered by
    /// any member, so without writes the last contact would stand still while all is well (and
    /// a shell job's watchdog would be allowed less and less). When none was confirmed for a
    /// sixth of the TTL, a sync of the root, which goes through the leader, confirms it (it
    /// reads no data, so no ACL refuses it). Returns how long to wait before looking again.
    private func keepContactCurrent() async -> Duration {
        let session = sessions.current
        let quiet = session.ttl / 6
        if session.state == .suspended { return await watchForRefusal(of: session) }
        guard session.state == .connected || session.state == .reconnected else { return quiet }
        let now = ContinuousClock.now
        let due = session.lastContact + quiet
        if now < due { return now.duration(to: due) }
        _ = await callOnce(throughLeader: true) { zh, context in zoo_async(zh, "/", completeString, context) }
        // Unanswered (contact lost): ask again soon, not in a busy loop.
        return quiet / 2
    }

    /// A ZooKeeper server refuses a client that saw more of its history than it has (a zxid
    /// past its last): one restored from a backup, or whose data directory was emptied. It
    /// hangs up without a word, and the C client tries again forever, so the session stayed
    /// suspended, every call waiting, while the server served everyone else. So once the
    /// session is past its TTL (the server has ended it, or never knew it) and a host has
    /// served all along for ``refusalGrace`` (a server that knows the session takes the handle
    /// back well within that), the session is given up as expired and a new handle started.
    /// Returns how long to wait before looking again.
    private func watchForRefusal(of session: SessionEvent) async -> Duration {
        let quiet = session.ttl / 6
        let now = ContinuousClock.now
        let end = session.lastContact + session.ttl
        // Before the first session (opening reports `suspended` without one), nothing to give up.
        guard !session.sessionID.isEmpty, now >= end else {
            refusalWatch.withLock { $0 = nil }
            return session.sessionID.isEmpty ? quiet : min(quiet, now.duration(to: end))
        }
        var serving: String?
        for host in hostAddresses where serving == nil {
            if await HostProbe.probe(host, identify: true) == .accepted { serving = host }
        }
        guard let serving else {
            refusalWatch.withLock { $0 = nil }
            return quiet
        }
        let since = refusalWatch.withLock { watch in
            if watch?.sessionID != session.sessionID { watch = (session.sessionID, now) }
            return watch?.servingSince ?? now
        }
        guard now - since >= Self.refusalGrace else { return Self.refusalGrace - (now - since) }
        refusalWatch.withLock { $0 = nil }
        logger.warning(
            "ZooKeeper serves, but has not taken this handle's session back for longer than its TTL: a server refuses a client that saw more of its history than it has (restored from a backup, or its data emptied?); the session is given up as expired, and a new one started",
            metadata: ["host": "\(serving)", "session": "\(session.sessionID)"])
        let generation = state.withLock { $0.generation }
        // Never on the pool: the session's delivery may wait (see `sessionChanged`).
        Thread.detachNewThread { [self] in sessionChanged(.abandoned, generation: generation) }
        return quiet
    }

    /// How long a host must serve while the session, past its TTL, stays suspended, before the
    /// session is given up (``watchForRefusal(of:)``). The C client tries again several times a
    /// second, so a server that would take the session back has done so long before.
    static let refusalGrace = Duration.seconds(2)

    private func makeHandle(generation: Int) -> LiveHandle? {
        if refusedHandles.load(ordering: .relaxed) > 0 {
            refusedHandles.subtract(1, ordering: .relaxed)
            return nil
        }
        let context = Unmanaged.passRetained(HandleContext(connection: self, generation: generation))
        let timeout = Int32(clamping: settings.sessionTimeout.components.seconds * 1000
            + settings.sessionTimeout.components.attoseconds / 1_000_000_000_000_000)
        guard let handle = zookeeper_init(ClientConnectString.from(settings.connectString), sessionWatcher, timeout, nil, context.toOpaque(), 0) else {
            context.release()
            return nil
        }
        ZooKeeperConnection.limitHostResolution(handle)
        if let digest = settings.digest {
            // Kept by the client and sent again on every reconnect, before any request.
            let rc = digest.withCString { zoo_add_auth(handle, "digest", $0, Int32(strlen($0)), nil, nil) }
            if rc != ZOK.rawValue {
                logger.error("ZooKeeper refused to queue digest authentication", metadata: ["rc": "\(ZooKeeperReturnCode.name(of: rc))"])
            }
        }
        return LiveHandle(handle: handle, context: context, generation: generation)
    }

    /// By default the C client resolves every host name each time its I/O thread polls the
    /// socket: a getaddrinfo per wake-up, 15% of a busy client's time in a profile. Once a minute
    /// still follows DNS changes; after a lost connection the client resolves anew anyway.
    static func limitHostResolution(_ handle: OpaquePointer) {
        _ = zoo_set_servers_resolution_delay(handle, 60_000)
    }

    /// Called on the C client's event thread for every session event of handle `generation`.
    fileprivate func sessionChanged(_ input: SessionMachine.Input, generation: Int) {
        // A handle still being put in place reports nothing until it is in place.
        installing.withLock { _ in }
        // The delivery lock keeps events from two handles in order; the state lock is released
        // before they are sent, since a send may wait on a task whose cancellation is running a
        // watch's termination, which takes the state lock.
        let restart: Bool = delivery.withLock { _ in
            // What the answered requests confirmed since the last event (under the delivery lock,
            // so that event has been sent and its contact noted since).
            let confirmed = sessions.current.lastContact
            let (events, restart): ([SessionEvent], Bool) = state.withLock { state in
                guard state.generation == generation, !state.closed else { return ([], false) }
                var events: [SessionEvent] = []
                var restart = false
                state.machine.confirmContact(at: confirmed)
                for action in state.machine.handle(input, now: .now) {
                    switch action {
                    case .publish(let event): events.append(event)
                    case .startNewSession: restart = true
                    }
                }
                return (events, restart)
            }
            for event in events { sessions.send(event) }
            // Every watch re-reads its scope when contact is back. Pushed here, on the C client's
            // event thread, so that it lands before the events the server fires for the watches
            // the client sets again (which come after this one, in the server's watch-type order,
            // not store order); a subscriber to `sessions` could see it only after them.
            if events.contains(where: { $0.state == .connected || $0.state == .reconnected }) {
                for trigger in state.withLock({ $0.triggers.values }) { trigger.push(.resync) }
            }
            return restart
        }
        logger.debug("ZooKeeper session event", metadata: ["input": "\(input)", "generation": "\(generation)"])
        if restart {
            // Never from the event thread itself: closing a handle joins that thread.
            Thread.detachNewThread { [self] in replaceExpiredHandle(generation: generation) }
        }
    }

    /// Called on the C client's event thread when handle `generation` "connected" with a handshake
    /// reply that no ZooKeeper server gives (see ``NotZooKeeper``). That is no session: the store
    /// counts it as contact lost, and an opening store fails with why.
    fileprivate func handshakeMadeNoSense(why: String, generation: Int) {
        // Opening says it in its error; only a store that had a session has no one to tell.
        let hadSession = !sessions.current.sessionID.isEmpty
        logger.log(
            level: hadSession ? .error : .debug,
            "a server answered the ZooKeeper handshake with bytes no ZooKeeper server sends; is every host of the URL a ZooKeeper server?",
            metadata: ["hosts": "\(settings.connectString)", "reply": "\(why)"])
        sessionChanged(.connecting, generation: generation)
        let current = state.withLock { $0.generation == generation && !$0.closed }
        if current { wrongServer.send(why) }
    }

    /// Runs on a thread of our own: swaps in a new handle (a new session), then closes the dead one.
    /// The C client refuses to make a handle when no host name resolves (a DNS outage): it is
    /// asked again, less and less often, until it gives one or the store closes. Meanwhile the
    /// dead handle stays, so calls wait for the new session as they would for a slow one.
    private func replaceExpiredHandle(generation: Int) {
        let newGeneration: Int? = state.withLock { state in
            guard state.generation == generation, !state.closed else { return nil }
            state.generation += 1
            return state.generation
        }
        guard let newGeneration else { return }
        logger.info("ZooKeeper session expired; starting a new one")
        var pause = Self.firstHandleRetryPause
        while true {
            // The dead handles are closed outside the lock: closing joins their event thread,
            // which may be waiting for it.
            let (old, orphan, retry): (LiveHandle?, LiveHandle?, Bool) = installing.withLock { _ in
                let fresh = makeHandle(generation: newGeneration)
                let installPause = installPauseMilliseconds.load(ordering: .relaxed)
                if fresh != nil && installPause > 0 { Thread.sleep(forTimeInterval: Double(installPause) / 1000) }
                return state.withLock { state in
                    if state.closed || state.generation != newGeneration { return (nil, fresh, false) }
                    guard let fresh else { return (nil, nil, true) }
                    defer { state.live = fresh }
                    return (state.live, nil, false)
                }
            }
            for dead in [old, orphan].compactMap({ $0 }) {
                zookeeper_close(dead.handle)
                dead.context.release()
                // What the expired handle never called back (replies it had queued when the close
                // stopped its completion thread) ends as the client answers calls at an expiry.
                inFlight.handleDestroyed(dead.generation, answering: ZSESSIONEXPIRED.rawValue)
            }
            guard retry else { return }
            logger.warning(
                "the ZooKeeper client could not start a new session (does no host name resolve?); trying again",
                metadata: ["hosts": "\(settings.connectString)", "in": "\(DurationText.format(pause))"])
            Thread.sleep(forTimeInterval: Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18)
            pause = min(pause * 2, Self.lastHandleRetryPause)
        }
    }

    /// How long the first retry of a refused handle waits, and the longest any waits.
    static let firstHandleRetryPause = Duration.milliseconds(100)
    static let lastHandleRetryPause = Duration.seconds(5)

    /// Test seam: refuse the next `count` handles, as the C client does when no host name resolves.
    func refuseNextHandles(_ count: Int) { refusedHandles.store(count, ordering: .relaxed) }

    /// Test seam: how many of the refusals asked for are still to come.
    var refusedHandlesPending: Int { refusedHandles.load(ordering: .relaxed) }

    /// Test seam: make every replacement handle wait `pause` between being made and being installed.
    func pauseBeforeInstallingHandles(_ pause: Duration) {
        installPauseMilliseconds.store(Int(pause.components.seconds * 1000 + pause.components.attoseconds / 1_000_000_000_000_000), ordering: .relaxed)
    }

    /// Test seam: how many calls are waiting for a live session after the handle refused them.
    var callsAwaitingSession: Int { waitingCalls.load(ordering: .relaxed) }

    // MARK: Calls

    /// Submits one asynchronous call on the current handle and waits for its completion.
    /// `submit` gets the handle and the context pointer to pass to a completion in Completions.swift,
    /// and returns the call's immediate rc.
    ///
    /// After an expiry the C client refuses every call on the dead handle (`ZINVALIDSTATE`, nothing
    /// sent) until its replacement is in: such a call waits for the new session and goes there, as
    /// a transaction does and as the other backends' calls do (only what the session owned is lost).
    /// The wait is bounded by the session timeout; then the call fails with `sessionExpired`
    /// (with `unavailable` when the store closes meanwhile).
    ///
    /// `throughLeader`: the request is one the ensemble's leader handles (a write, a sync), so
    /// its answer confirms the session's contact (see ``noteContact(if:sentAt:)``).
    func call(throughLeader: Bool = false, _ submit: (OpaquePointer, UnsafeRawPointer) -> Int32) async -> Reply {
        var reply = await callOnce(throughLeader: throughLeader, submit)
        for _ in 0..<8 where reply.rc == ZINVALIDSTATE.rawValue {
            waitingCalls.add(1, ordering: .relaxed)
            let live = await awaitLiveSession()
            waitingCalls.subtract(1, ordering: .relaxed)
            // A close ends the wait: the call answers as any call on a closed handle does.
            guard live else { return isClosed ? Reply(rc: ZCLOSING.rawValue) : reply }
            reply = await callOnce(throughLeader: throughLeader, submit)
        }
        return reply
    }

    /// Waits for a connected session (the current one or the one replacing an expired one), at
    /// most a session timeout: `false` if none came, or the handle was closed.
    func awaitLiveSession() async -> Bool {
        await sessions.awaitSession(within: settings.sessionTimeout) { [.connected, .reconnected].contains($0.state) }
    }

    private func callOnce(throughLeader: Bool, _ submit: (OpaquePointer, UnsafeRawPointer) -> Int32) async -> Reply {
        let sentAt = ContinuousClock.now
        let reply = await withCheckedContinuation { continuation in
            let reply = ReplyBox(continuation, calls: inFlight)
            let box = Unmanaged.passRetained(reply)
            // The submission only queues the request; holding the lock keeps the handle from being
            // closed underneath it.
            let rc: Int32 = state.withLock { state in
                if state.closed { return ZCLOSING.rawValue }
                guard let live = state.live else { return ZINVALIDSTATE.rawValue }
                inFlight.add(reply, handle: live.generation)
                let rc = submit(live.handle, UnsafeRawPointer(box.toOpaque()))
                if rc != ZOK.rawValue { inFlight.remove(reply) }
                return rc
            }
            if rc != ZOK.rawValue {
                box.release()
                continuation.resume(returning: Reply(rc: rc))
            }
        }
        if throughLeader { noteContact(if: reply, sentAt: sentAt) }
        return reply
    }

    /// A request the leader answered was heard by the server no earlier than it was handed to the
    /// client: the session's last contact moves on to then (contract clause 7). Only requests
    /// the leader handles count: a member cut off from its leader goes on answering reads (and
    /// the client's pings) until it gives up on the leader, `syncLimit` ticks later, while the
    /// leader, which alone expires sessions, hears nothing of this one. An answer on a handle
    /// whose session has since been replaced was sent before the new session began, so it leaves
    /// that session's first contact as it is.
    private func noteContact(if reply: Reply, sentAt: ContinuousClock.Instant) {
        if ZooKeeperReturnCode.isServerAnswer(reply.rc) { sessions.noteContact(at: sentAt) }
    }

    /// Submits `count` asynchronous calls at once (`submit` gets the call's index, the handle and
    /// its context pointer) and waits for all their completions, in index order.
    func callAll(_ count: Int, _ submit: (Int, OpaquePointer, UnsafeRawPointer) -> Int32) async -> [Reply] {
        if count == 0 { return [] }
        return await withCheckedContinuation { continuation in
            let batch = ReplyBatch(count: count, continuation)
            state.withLock { state in
                for index in 0..<count {
                    let reply = ReplyBox(batch, index: index, calls: inFlight)
                    let box = Unmanaged.passRetained(reply)
                    var rc: Int32 = ZINVALIDSTATE.rawValue
                    if state.closed {
                        rc = ZCLOSING.rawValue
                    } else if let live = state.live {
                        inFlight.add(reply, handle: live.generation)
                        rc = submit(index, live.handle, UnsafeRawPointer(box.toOpaque()))
                        if rc != ZOK.rawValue { inFlight.remove(reply) }
                    }
                    if rc != ZOK.rawValue {
                        box.release()
                        batch.fill(index, with: Reply(rc: rc))
                    }
                }
            }
        }
    }

    /// The current session's id and password, as the C client knows them.
    func sessionCredentials() -> clientid_t? {
        state.withLock { state in
            guard !state.closed, let live = state.live else { return nil }
            return zoo_client_id(live.handle)?.pointee
        }
    }

    /// The id of the session currently in use (0 before the first connection).
    func currentSessionID() -> Int64 {
        sessionCredentials()?.client_id ?? 0
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Test seam: how many calls are handed to the C client and not answered yet.
    var callsInFlight: Int { inFlight.waiting }

    /// Test seam: how many reply boxes of this connection's calls are still in memory.
    var replyBoxesAlive: Int { inFlight.boxesAlive }

    /// Test seam: whether a close has released the C handle and answered every call it left.
    var isReleased: Bool { released.load(ordering: .acquiring) }

    // MARK: Watches

    /// Lets `trigger` receive the C client's watch events and the handle's resyncs, until
    /// ``release(_:)`` or the handle closes.
    func retain(_ trigger: WatchTrigger) {
        let accepted = state.withLock { state in
            guard !state.closed else { return false }
            state.triggers[trigger.id] = trigger
            WatchTriggers.add(trigger)
            return true
        }
        if !accepted { trigger.finish() }
    }

    /// Ends `trigger`'s watch events (its stream has ended) and lets it go.
    func release(_ trigger: WatchTrigger) {
        _ = state.withLock { $0.triggers.removeValue(forKey: trigger.id) }
        WatchTriggers.remove(trigger)
        trigger.finish()
    }

    /// Registers a watch stream so that closing the handle ends it with `unavailable`.
    /// Returns `nil` when already closed.
    func register(_ continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation) -> Int? {
        state.withLock { state in
            guard !state.closed else { return nil }
            let id = state.nextWatchID
            state.nextWatchID += 1
            state.watches[id] = continuation
            return id
        }
    }

    func unregister(_ id: Int) {
        _ = state.withLock { $0.watches.removeValue(forKey: id) }
    }

    /// Makes the C client forget the watches `trigger` set on `znodes`, locally: the server's
    /// watch on a path serves every stream of the handle, and fires once at most. Without this the
    /// client keeps an entry per ended stream on each path it watched until that path changes,
    /// which a stable key watched by streams opened and cancelled in a loop never does.
    func forgetWatches(on znodes: some Sequence<Key>, of trigger: WatchTrigger) {
        // Under the lock, as every call on the handle, so that it is not closed meanwhile. With
        // `local` the call only edits the client's tables and never waits.
        state.withLock { state in
            guard !state.closed, let live = state.live else { return }
            for znode in znodes {
                _ = znode.path.withCString { zoo_remove_watches(live.handle, $0, ZWATCHTYPE_ANY, watchTriggered, trigger.context, 1) }
            }
        }
    }

    /// Test seam: how many watch triggers the handle keeps.
    var watchTriggerCount: Int { state.withLock { $0.triggers.count } }

    /// Test seam: the ids of the triggers of the running watch streams.
    var watchTriggerIDs: [UInt] { state.withLock { Array($0.triggers.keys) } }

    /// Test seam: whether the C client holds a watch of trigger `id` on `znode` (forgetting it if so).
    func clientHoldsWatch(on znode: Key, triggerID id: UInt) -> Bool {
        state.withLock { state in
            guard let live = state.live else { return false }
            let rc = znode.path.withCString {
                zoo_remove_watches(live.handle, $0, ZWATCHTYPE_ANY, watchTriggered, UnsafeMutableRawPointer(bitPattern: id), 1)
            }
            return rc == ZOK.rawValue
        }
    }

    // MARK: Waiting for the session

    /// Waits until the session is usable (`connected` or `reconnected`).
    /// - Throws: `unavailable` after `timeout` or when closed.
    func waitUntilLive(timeout: Duration) async throws(CoordinationError) {
        let sessions = self.sessions
        let hosts = settings.connectString
        let addresses = hosts.split(separator: ",").map(String.init)
        let result: Result<Void, CoordinationError> = await withTaskGroup(of: Result<Void, CoordinationError>?.self) { group in
            group.addTask {
                for await event in sessions.subscribe() {
                    if event.state == .connected || event.state == .reconnected { return .success(()) }
                    if event.state == .closed { return .failure(.closed()) }
                }
                return nil
            }
            // A handshake that made no sense fails the opening even when other hosts are listed
            // (unless a good one gave a session first): the client would carry the nonsense
            // "session" on to them, to have it expire.
            let wrongServer = self.wrongServer
            group.addTask { [addresses] in
                for await problem in wrongServer.subscribe() {
                    guard let why = problem else { continue }
                    if addresses.count == 1 { return .failure(NotZooKeeper.error([(addresses[0], why)])) }
                    // The client does not reliably say which host it was (it may have moved
                    // on): ask each.
                    var strangers: [(address: String, why: String)] = []
                    for address in addresses {
                        if case .notZooKeeper(let what) = await HostProbe.probe(address, identify: true) { strangers.append((address, what)) }
                    }
                    return .failure(NotZooKeeper.error(strangers.isEmpty ? [("one of \(hosts)", why)] : strangers))
                }
                return nil
            }
            // What the probe below found at hosts that accept but give no session, so that the
            // timeout says why rather than ask whether a server runs that answered.
            let findings = ProbeFindings()
            group.addTask {
                try? await Task.sleep(for: timeout)
                if Task.isCancelled { return nil }
                let found = findings.notes.withLock { $0 }
                let why = found.isEmpty ? "is the server running?" : found.joined(separator: "; ")
                return .failure(CoordinationError(
                    .unavailable, "no ZooKeeper session with \(hosts) within \(DurationText.format(timeout)); \(why)"))
            }
            // Every host refusing outright (a server that is down, a mistyped port or name) or
            // answering as HTTP does (etcd's port) is said at once rather than after the whole
            // timeout. A head start first: a server that is there gives a session before the
            // probe would even connect.
            group.addTask { [addresses, logger] in
                try? await Task.sleep(for: .milliseconds(500))
                var refusals: [String] = []
                var strangers: [(address: String, why: String)] = []
                var mayServe = false
                // Every host's, in order, once one accepts without serving: an ensemble's members
                // that are down beside the one that says it has no quorum.
                var notes: [String] = []
                var notServing = false
                for address in addresses {
                    if Task.isCancelled { return nil }
                    switch await HostProbe.probe(address, identify: true) {
                    case .refused(let why):
                        refusals.append("\(address): \(why)")
                        notes.append("\(address): \(why)")
                    case .notZooKeeper(let why): strangers.append((address, why))
                    case .notServing(let what):
                        mayServe = true
                        notServing = true
                        notes.append("\(address) \(what)")
                        logger.warning("no ZooKeeper session yet", metadata: ["host": "\(address)", "found": "\(what)"])
                    case .accepted, .undecided: mayServe = true
                    }
                }
                if notServing { findings.notes.withLock { $0 = notes } }
                if Task.isCancelled || mayServe { return nil }
                if !strangers.isEmpty { return .failure(NotZooKeeper.error(strangers, refused: refusals)) }
                return .failure(CoordinationError(
                    .unavailable,
                    "cannot reach ZooKeeper (\(refusals.joined(separator: "; "))); is the server running, and is the URL's host:port right?"))
            }
            defer { group.cancelAll() }
            while let next = await group.next() {
                if let next { return next }
            }
            return .failure(.closed())
        }
        try result.get()
    }

    // MARK: Closing

    /// Ends the session, finishes every stream, and releases the C handle (on a thread of our own:
    /// `zookeeper_close` blocks until the server confirms). A close while another is under way
    /// returns when that one has finished, so that after any close the session is over.
    func close() async {
        let work = closing.withLock { closing in
            if let closing { return closing }
            let work = Task { await closeOnce() }
            closing = work
            return work
        }
        await work.value
    }

    private func closeOnce() async {
        var last: SessionEvent?
        let taken: (LiveHandle?, [WatchTrigger], [AsyncThrowingStream<WatchEvent, any Error>.Continuation])? = state.withLock { state in
            guard !state.closed else { return nil }
            for action in state.machine.handle(.closed, now: .now) {
                if case .publish(let event) = action { last = event }
            }
            state.closed = true
            defer {
                state.live = nil
                state.triggers = [:]
                state.watches = [:]
            }
            return (state.live, Array(state.triggers.values), Array(state.watches.values))
        }
        guard let (live, triggers, watches) = taken else { return }
        prober.withLock { $0?.cancel() }
        // Outside the state lock, for the reason given in `sessionChanged`.
        delivery.withLock { _ in sessions.finish(with: last) }
        wrongServer.finish()
        for watch in watches { watch.finish(throwing: CoordinationError.closed()) }
        if let live {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread {
                    zookeeper_close(live.handle)
                    live.context.release()
                    continuation.resume()
                }
            }
        }
        // The handle is gone: no completion comes any more for what it left unanswered.
        if let live { inFlight.handleDestroyed(live.generation, answering: ZooKeeperReturnCode.closedInFlight) }
        // Calls on an expired handle whose close is still under way end now too; that close lets their boxes go.
        inFlight.answerAllAsClosed()
        released.store(true, ordering: .releasing)
        for trigger in triggers {
            WatchTriggers.remove(trigger)
            trigger.finish()
        }
    }
}

/// The context handed to `zookeeper_init`: which connection and which of its handles an event is from.
final class HandleContext: Sendable {
    weak let connection: ZooKeeperConnection?
    let generation: Int
    init(connection: ZooKeeperConnection, generation: Int) {
        self.connection = connection
        self.generation = generation
    }
}

/// The global watcher of every handle: decodes session events; node events go to watch objects.
private func sessionWatcher(
    _ zh: OpaquePointer?, _ type: Int32, _ state: Int32, _ path: UnsafePointer<CChar>?, _ context: UnsafeMutableRawPointer?
) {
    guard type == ZOO_SESSION_EVENT, let zh, let context else { return }
    let handleContext = Unmanaged<HandleContext>.fromOpaque(context).takeUnretainedValue()
    guard let connection = handleContext.connection else { return }
    let input: SessionMachine.Input
    switch state {
    case ZOO_CONNECTED_STATE, ZOO_READONLY_STATE:
        let negotiated = zoo_recv_timeout(zh)
        if let why = NotZooKeeper.handshakeProblem(timeoutMilliseconds: negotiated) {
            connection.handshakeMadeNoSense(why: why, generation: handleContext.generation)
            return
        }
        let id = zoo_client_id(zh)?.pointee.client_id ?? 0
        input = .connected(sessionID: id, timeout: .milliseconds(Int64(negotiated)))
    case ZOO_CONNECTING_STATE, ZOO_ASSOCIATING_STATE:
        input = .connecting
    case ZOO_EXPIRED_SESSION_STATE, ZOO_AUTH_FAILED_STATE:
        input = .expired
    default:
        return
    }
    connection.sessionChanged(input, generation: handleContext.generation)
}

/// What probing the hosts found while a session was awaited, for the timeout's message.
private final class ProbeFindings: Sendable {
    let notes = Mutex<[String]>([])
}
