import Coordination
import CoordinationRecipes
import CoordinationScheduler
import Foundation

/// What `coord lock` and `coord elect` share: run a child command while something is held, stop
/// it when the hold is lost or coord is signalled, and pass its exit status through.
enum HeldCommand {
    /// Runs `argv` inside `hold`, which acquires, calls `runChild` with the environment to add
    /// (under the session guard, which cancels it when the hold is lost), and releases. Returns the
    /// child's status.
    ///
    /// A SIGINT, SIGTERM or SIGHUP to coord goes on to the command (one a terminal sent to the whole
    /// process group has reached it already), which is killed if it is still running 5 s later;
    /// coord then releases and returns the command's status, whatever the command made of the
    /// signal. A signal while no command runs (waiting to acquire) stops the wait and gives
    /// 128 + the signal's number, as a shell reports a process the signal ended.
    ///
    /// The command has a watchdog (``HeldWatchdog``): it dies with coord, or when coord freezes,
    /// before `store`'s session may end. Stopped because the hold was lost, it gets SIGTERM
    /// ``stopMargin(sessionTTL:)`` before the session may end and SIGKILL ``stopGrace(sessionTTL:)``
    /// later, so that it is dead before the next holder may start.
    /// - Parameter exclusive: whether what is held passes to someone else once the session may
    ///   have ended (a lock, leadership: the watchdog's beats follow the session), or is taken up
    ///   again by coord itself (a membership: the watchdog only catches a killed or frozen coord).
    static func run(
        _ argv: [String], holding what: String, in store: any CoordinationStore, exclusive: Bool = true,
        hold: @escaping @Sendable (_ runChild: @escaping @Sendable ([String: String]) async throws -> Int32) async throws -> Int32
    ) async throws -> Int32 {
        try requireCommand(argv)
        // SIGHUP too (a closed terminal or ssh session, a supervisor's reload): its default action
        // ended coord at once, the watchdog SIGKILLed the command past its trap, and the lock
        // stayed held until the session expired. Under nohup it stays ignored (SignalListener).
        let signals = SignalListener([SIGINT, SIGTERM, SIGHUP])
        defer { signals.stop() }
        let forwarder = SignalForwarder()
        let watchdog = exclusive ? await HeldWatchdog.holding(store) : await HeldWatchdog.ofProcess(sessionTTL: store.session.ttl)
        let grace = stopGrace(sessionTTL: store.session.ttl)
        enum Outcome: Sendable {
            case held(Int32)
            case signalled(Int32)
        }
        return try await withThrowingTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                do {
                    return .held(
                        try await hold { environment in
                            try await ChildCommand.run(
                                argv, environment: environment, grace: grace, forwarder: forwarder, watchdog: watchdog)
                        })
                } catch RecipeError.sessionLost(let why) {
                    throw RecipeError.sessionLost("\(what) was lost (\(why)); the command was stopped")
                }
            }
            group.addTask {
                for await signal in signals.signals where !forwarder.forward(signal) {
                    return .signalled(signal.number)
                }
                return nil  // cancelled: the hold ended
            }
            defer { group.cancelAll() }
            while let outcome = try await group.next() {
                switch outcome {
                case .held(let status): return status
                case .signalled(let number):
                    // No command runs: cancelling the hold ends the wait, or the release after the
                    // command exited (whose status still counts).
                    group.cancelAll()
                    _ = try? await group.next()
                    return forwarder.status ?? 128 + number
                case nil: continue  // no signals to listen to: wait for the hold
                }
            }
            return forwarder.status ?? ExitStatus.failure.rawValue
        }
    }

    /// Runs `body`, then deletes the lock's or election's key if nothing is queued under it (and it holds no value
    /// and is not ephemeral: not something of the user's): every name used would otherwise leave
    /// an empty key behind (`/locks/deploy-1234`). A contender arriving meanwhile is safe either
    /// way: a delete refuses a key with an entry under it (`notEmpty`), and a contender's create
    /// makes a deleted key again (missing ancestors are created). Best effort: any failure leaves
    /// the key, as before.
    /// - Parameter silence: told when the store is found silent on the way (out of contact, or
    ///   the removal unanswered for what is left of the tidy-up's allowance, ``StoreSilence/tidyUp``):
    ///   the session's close is then not waited for.
    static func removingIfUnused<T: Sendable>(
        _ key: Key, in store: any CoordinationStore, noting silence: StoreSilence, _ body: () async throws -> T
    ) async throws -> T {
        func removeIfUnused() async {
            // Out of contact (the hold was lost to it), each call would wait out a time-out
            // before coord could exit: a supervisor restarting coord must not wait for tidying.
            // Nor once the store is known silent (a lock given up on it).
            guard !silence.isKnown, [.connected, .reconnected].contains(store.session.state) else {
                silence.note()
                return
            }
            // Nor for long when the server went silent so recently that the handle still counts
            // itself in contact (a lock given up at its --timeout just then): within the
            // allowance the lock's entry's removal shared, a store that answers is waited for,
            // and one that lets it pass unanswered is silent.
            let tidyUp = silence.tidyUp
            _ = await tidyUp.wait(
                for: {
                    guard let record = try? await tidyUp.hearing({ try await store.get(key) }), record.value.isEmpty,
                        !record.isEphemeral
                    else { return }
                    try? await tidyUp.hearing { try await store.delete(key, ifVersion: record.version, recursive: false) }
                },
                inContact: { [.connected, .reconnected].contains(store.session.state) })
        }
        do {
            let result = try await body()
            await removeIfUnused()
            return result
        } catch {
            await removeIfUnused()
            throw error
        }
    }

    /// A command after `--` is required: checked with the command line's other values, before any
    /// store is opened, so a missing one is a usage error (64) whatever the store's state.
    /// - Parameter example: a command of the kind this one runs (a deploy under a lock, a server
    ///   as a group's member).
    static func requireCommand(_ argv: [String], example: String = "./deploy.sh") throws {
        guard argv.isEmpty else { return }
        throw CommandLineProblem("give the command to run after --, for example: -- \(example)")
    }

    /// How long before a suspended session may end a held command is told to stop: a fifth of
    /// the TTL, as a worker's runs are (``Worker/selfFencingMargin(sessionTTL:)``).
    static func stopMargin(sessionTTL: Duration) -> Duration { Worker.selfFencingMargin(sessionTTL: sessionTTL) }

    /// How long a held command told to stop has before SIGKILL: half the margin, at most 5 s, so
    /// that it is dead a tenth of a TTL before the session may end.
    static func stopGrace(sessionTTL: Duration) -> Duration { min(.seconds(5), stopMargin(sessionTTL: sessionTTL) / 2) }

    /// Runs `body` under the session guard while `lease` holds the queue at `path` (a lock's or
    /// an election's), then releases it as `Lock.withLock` does (``release(_:in:)``), through store
    /// errors too, but giving up ``stopMargin(sessionTTL:)`` before a suspended session may end.
    static func holding<T: Sendable>(
        _ lease: LockLease, in store: any CoordinationStore, at path: Key, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        do {
            let result = try await SessionGuard.run(
                store: store, sessionID: lease.sessionID, margin: stopMargin(sessionTTL: store.session.ttl), body)
            await release(lease, in: store)
            return result
        } catch RecipeError.sessionLost(let why) where ![.connected, .reconnected].contains(store.session.state) {
            // Lost out of contact: coord exits next, and the entry ends with the session. Removing
            // it would wait out a request time-out (10 s on etcd) or the session's two TTLs before
            // coord could exit, and a supervisor restarting coord would wait for nothing.
            throw RecipeError.sessionLost(why)
        } catch {
            await release(lease, in: store)
            throw error
        }
    }

    /// Releases `lease` through the recipe's own release, which removes the join's late-landing
    /// entries with the lease's (a create whose reply was lost, landing behind it: left there, it
    /// blocked everyone queued after it for as long as coord's session lived). It retries failed
    /// deletes itself while the session may live and once contact is back in it; a failure that
    /// will not pass (refused permission) changes nothing tried again.
    static func release(_ lease: LockLease, in store: any CoordinationStore) async {
        try? await lease.release()
    }

    /// A name given on the command line as a key: an absolute key as it is, a plain name under
    /// `folder`. `kind` names what the key is for ("a lock"), for the message refusing the root.
    static func key(_ name: String, under folder: String, kind: String) throws -> Key {
        // Key's own words for it, "empty segment ('//')", speak of a slash nobody typed.
        if name.isEmpty { throw CoordinationError(.invalidKey, "invalid name '': it is empty; give a plain name (deploy, the key \(folder)/deploy) or an absolute key") }
        if name.hasPrefix("/") {
            let key = try Key(name)
            // Its entries would be children of the root, beside every other key in the store,
            // which would count as entries too; and leaving would try to remove the root.
            guard key != .root else {
                throw CommandLineProblem(
                    "'\(name)' is the root key, which cannot be \(kind): give a plain name (deploy, the key \(folder)/deploy) or a key below the root (/myapp\(folder)/deploy)")
            }
            return key
        }
        if name.contains("/"), let absolute = try? Key(folder + "/" + name) {
            throw CoordinationError(.invalidKey, "invalid name '\(name)': a plain name has no '/'; for a key beneath \(folder) write \(absolute)")
        }
        return try Key(folder).child(name)
    }
}
