import Coordination
import CoordinationRecipes
import Foundation
import Logging
import Synchronization

/// One attempt at one run, from the claim to the write that ends it.
///
/// The claim is one transaction: check the run at the version we saw, create its ephemeral claim,
/// mark it running. The run record's new version is the attempt's fence: every later write
/// (progress, completion, retry, hand-back) starts with a check of it, so once someone else has
/// claimed the run (after our session ended) nothing we write can land. The handler runs inside
/// ``SessionGuard``, so a lost session cancels it before anyone else can take over.
struct RunExecution: Sendable {
    let store: any CoordinationStore
    let layout: SchedulerLayout
    let worker: String
    let clock: WallClock
    let logger: Logger
    let spec: JobSpec
    let candidate: ViewRun
    /// For a takeover: the abandoned attempt's claim token, as its run record tells it
    /// (``RunRecord/attemptToken(version:modRevision:)``).
    let previousToken: Int64?
    let handler: JobHandler
    /// When the job's history cannot be full, the end of the run skips reading it.
    let historyRoom: HistoryRoom?
    /// The version of the job's record (its state) the worker judged the run claimable by (not
    /// paused): the claim checks it, so a pause the worker has not seen yet cannot be overtaken.
    let stateVersion: Int64?
    /// The fence of the job's incarnation the worker judged the run by (its state at
    /// `stateVersion`): the claim checks it first, so that no run of a job whose removal is under
    /// way, or stopped halfway, is claimed (``ClaimResult/jobBeingRemoved``). `nil` when the
    /// view held no state of the job.
    let incarnation: IncarnationFence?
    /// The worker's group commit: claims and ends of runs of different jobs share transactions.
    let commits: GroupCommit?
    /// The `createRevision` of this worker's member key in the current session: the claim
    /// records it, and other workers hold the run claimed while that member key lives
    /// (``RunRecord/registration``).
    let registration: Int64
    /// The session `registration` belongs to: the claim must be made in it (see ``claim(control:)``).
    let registrationSession: String

    var runKey: Key { candidate.key }
    var history: HistoryWriter { HistoryWriter(store: store, layout: layout, commits: commits) }

    /// What the attempt came to. A stopped attempt keeps the output tails its handler left
    /// (``RunOutput/message`` unused).
    enum Outcome: Sendable {
        case succeeded(RunOutput)
        case failed(RunFailure)
        case timedOut(RunOutput?)
        case cancelled(RunOutput?)
        case handBack
        case sessionLost(String, RunOutput?)
        /// The handler was never started (``giveBack(_:control:)``).
        case notStarted(previousWorker: String?)
    }

    /// A claim that was won.
    struct Claim: Sendable {
        var record: RunRecord
        let claimKey: Key
        let token: Int64
        let sessionID: String
        /// The abandoned attempt had no retry left, or was cancelled: settle without running, with
        /// this entry, which names that attempt (its worker and token), not ours.
        let finalEntry: HistoryEntry?
    }

    /// What a claim came to.
    enum ClaimResult: Sendable {
        case won(Claim)
        /// Another worker was faster, or the run (or its job's state) changed, or the run can
        /// never be claimed (``endUnclaimable(_:)``): the view will tell.
        case lost
        /// The job's incarnation key is gone: its removal is under way, or stopped halfway
        /// (``Scheduler/isBeingRemoved(_:)``). No run of this incarnation can be claimed again;
        /// they stay for `coord job rm` to delete.
        case jobBeingRemoved

        /// The claim, when it was won.
        var won: Claim? {
            if case .won(let claim) = self { claim } else { nil }
        }
    }

    /// Claims the run (with `control` receiving the fence). Throws only store failures, and
    /// `sessionExpired` when the claim landed in a later session than ``registrationSession``
    /// (replaced as the claim was sent): the run is then given back, pending at the same
    /// attempt, for a claim in the new session (``giveBack(_:control:)``).
    ///
    /// The transaction checks the job's incarnation key first (``incarnation``), then the run's
    /// version and the job's state version. ``Scheduler/remove(_:)`` cancels the active runs
    /// before it deletes that key, so a run made in between (a trigger, a fire time) would
    /// otherwise be claimed and run for a job being removed, and, should the removal stop right
    /// after the key's deletion, for as long as it stays unfinished.
    ///
    /// Versions start over for a job removed and added again under the same id. A view still
    /// behind that removal cannot claim the new job's runs as the removed job's all the same: their
    /// ids carry the new job's incarnation tag (``RunID``, ``JobState/incarnation``), so the
    /// removed job's run the view holds is gone (`noNode`), and the removed incarnation's key with
    /// it. A job added by an earlier version has no key (no check) and no tag, and keeps its
    /// untagged run ids; added again, it gets a tag, so its ids differ from those too.
    func claim(control: RunControl) async throws -> ClaimResult {
        let claimKey: Key
        do {
            claimKey = try layout.claim(candidate.record.job, candidate.record.run)
        } catch {
            try await endUnclaimable(error)
            return .lost
        }
        // Not the store's session now: the claim records the registration of this one.
        let sessionID = registrationSession
        let now = clock.now()
        var record = candidate.record
        var entries: [HistoryEntry] = []
        var finalEntry: HistoryEntry?
        if record.status == .running {
            // Abandoned: its claim vanished with its worker's session. Creating the claim below
            // fails if the claim is in fact still there, so a stale view cannot steal a live run.
            let previous = record.worker ?? "?"
            // The lost attempt's entry: it may have done its work (even reported it) before its
            // session ended, so history names it by its own worker and token.
            let lost = { [record, previousToken] (outcome: HistoryEntry.Outcome, message: String) in
                HistoryEntry(
                    job: record.job, run: record.run, item: record.item, worker: previous, token: previousToken,
                    attempt: record.attempt, scheduledAt: record.scheduledAt, startedAt: record.startedAt, finishedAt: now,
                    outcome: outcome, message: message)
            }
            if record.cancelRequested {
                finalEntry = lost(.cancelled, "\(record.cancelReason ?? "cancelled by request") while its worker \(previous) was lost")
            } else if spec.retry.allowsAnother(after: record.attempt) {
                entries.append(lost(.abandoned, "worker \(previous) lost its session; taken over by \(worker)"))
                record.attempt += 1
            } else {
                finalEntry = lost(.abandoned, "worker \(previous) lost its session; no retries left")
            }
        }
        record.status = .running
        record.worker = worker
        record.startedAt = now
        record.progress = nil
        record.claimVersion = candidate.version + 1
        record.registration = registration
        record.token = nil
        let runKey = runKey
        let value = try SchedulerJSON.encode(record)
        let version = candidate.version
        let stateCheck: [Coordination.Operation] = try stateVersion.map { [.check(try layout.job(record.job), version: $0)] } ?? []
        // First, so that its refusal is told by its index (``IncarnationFence/refused(_:)``): the
        // history writer puts its own operations after ours.
        let fence = incarnation?.checks ?? []
        let results: [OperationResult]
        do {
            results = try await history.transact(job: record.job, entries: entries) {
                fence + [
                    .check(runKey, version: version),
                    .create(claimKey, value: Array(worker.utf8), mode: .ephemeral),
                    .set(runKey, value: value, ifVersion: version),
                ] + stateCheck
            }
        } catch let error as CoordinationError
            where [.nodeExists, .versionConflict, .noNode].contains(error.code)
                && (error.failedOperation ?? 99) < fence.count + 3 + stateCheck.count
        {
            if let incarnation, incarnation.refused(error) {
                logger.debug("claim refused: the job's removal is under way", metadata: ["run": "\(runKey)"])
                return .jobBeingRemoved
            }
            // Someone else claimed it, or it (or its job's state) changed: the view will tell us.
            logger.debug("claim lost", metadata: ["run": "\(runKey)", "reason": "\(error.message)"])
            return .lost
        } catch let error as CoordinationError where error.code == .connectionLoss || error.code == .timeout {
            // The outcome is unknown. If the claim did land, the run would sit "running" under a
            // live claim nobody works on until our session ends: find out, and carry on if it is ours.
            guard
                let recovered = try await recoverClaimPatiently(
                    expecting: record, after: version, claimKey: claimKey, finalEntry: finalEntry, sessionID: sessionID)
            else { throw error }
            control.advance(to: recovered.fence)
            return .won(try await keptInItsSession(recovered.claim, registeredIn: sessionID, control: control))
        }
        guard case .created(let claim) = results[fence.count + 1], case .set(let updated) = results[fence.count + 2] else {
            return .lost
        }
        logger.info(
            "claimed", metadata: ["job": "\(record.job)", "run": "\(record.run)", "attempt": "\(record.attempt)", "token": "\(claim.createRevision)"])
        control.advance(to: updated.version)
        let won = Claim(
            record: record, claimKey: claimKey, token: claim.createRevision, sessionID: claim.ownerSession ?? sessionID,
            finalEntry: finalEntry)
        return .won(try await keptInItsSession(won, registeredIn: sessionID, control: control))
    }

    /// `claim`, when it was made in `session`, the one whose registration it recorded; else gives
    /// it back and throws `sessionExpired`. A claim sent as its session was replaced lands in the
    /// new one, under the old registration: run, it would be stopped at once as its session's
    /// loss (and that cost the run an attempt, with nothing started); held, other workers would
    /// take it for abandoned. A claim that only settles an abandoned attempt runs nothing and is kept.
    func keptInItsSession(_ claim: Claim, registeredIn session: String, control: RunControl) async throws -> Claim {
        guard claim.sessionID != session, claim.finalEntry == nil else { return claim }
        logger.info(
            "claim landed in a later session than its registration's; giving the run back",
            metadata: ["run": "\(runKey)", "registered in": "\(session)", "claimed in": "\(claim.sessionID)"])
        await giveBack(claim, control: control)
        throw CoordinationError(
            .sessionExpired, "session \(session) was replaced (by \(claim.sessionID)) as the claim of \(runKey) was sent")
    }

    /// Gives back a claim whose attempt never started: the run goes back to pending at the same
    /// attempt, with no history entry (nothing ran), unless a cancel request came meanwhile, which
    /// ends the run `cancelled`. The run's previous worker is kept, as a pending run's record says.
    /// The session the claim landed in may end too meanwhile, taking the claim with it: the run is
    /// given back all the same, fenced by its version (``giveBackHold(_:fence:)``).
    func giveBack(_ claim: Claim, control: RunControl) async {
        await settle(.notStarted(previousWorker: candidate.record.worker), claim: claim, control: control)
    }

    /// Ends a run that can never be claimed, and so never run: its claim key is no valid key
    /// (the job and run ids it was stored with are too long for it). Recorded as failed, saying
    /// why; a run that stayed would be tried by every worker forever.
    func endUnclaimable(_ problem: CoordinationError) async throws {
        let record = candidate.record
        let (runKey, version) = (runKey, candidate.version)
        logger.error(
            "run cannot be claimed", metadata: ["job": "\(record.job)", "run": "\(record.run)", "error": "\(problem.message)"])
        let entry = HistoryEntry(
            job: record.job, run: record.run, item: record.item, worker: worker, attempt: record.attempt,
            scheduledAt: record.scheduledAt, finishedAt: clock.now(), outcome: .failed,
            message: "the run cannot be claimed, so never run: \(problem.message)")
        let end: [Coordination.Operation] = [.check(runKey, version: version), .delete(runKey, ifVersion: version)]
        do {
            do {
                try await history.transact(job: record.job, entries: [entry]) { end }
            } catch let error as CoordinationError where error.code == .invalidKey {
                // The job's history keys are too long as well: the run ends without an entry.
                _ = try await store.transaction(end)
            }
        } catch let error as CoordinationError
            where (error.code == .versionConflict || error.code == .noNode) && (error.failedOperation ?? 99) < end.count
        {
            // It changed meanwhile (another worker ended it first): the view will tell.
        }
    }

    /// ``recoverClaim(expecting:after:claimKey:finalEntry:sessionID:)`` until it decides, or
    /// until the session that may hold the claim has ended (a claim it held went with it): giving
    /// up on a failed read could leave a claim that landed with nobody working on it.
    ///
    /// A claim sent as `sessionID` was replaced may have landed in the session that replaced it
    /// (the one current when it went, so no later one than the store's when `sessionID` is found
    /// replaced). That session is then followed the same way, reads failing or the run changing
    /// included: a claim in it lives as long as it does, holding the run for nobody. Found, the
    /// caller gives it back.
    func recoverClaimPatiently(
        expecting record: RunRecord, after version: Int64, claimKey: Key, finalEntry: HistoryEntry?, sessionID: String
    ) async throws -> (claim: Claim, fence: Int64)? {
        var backoff = Backoff(first: .milliseconds(10), cap: .seconds(1))
        // The session a claim of ours that landed lives in, as far as we know.
        var holder = sessionID
        while true {
            _ = await waitForUsableSession()
            if !sessionStillHolds(holder) {
                let now = store.session.sessionID
                guard holder == sessionID, now != sessionID, sessionStillHolds(now) else { return nil }
                holder = now
            }
            do {
                switch try await recoverClaim(
                    expecting: record, after: version, claimKey: claimKey, finalEntry: finalEntry, sessionID: sessionID)
                {
                case .landed(let claim, let fence):
                    // Found in the replaced session, which has ended: the claim went with it.
                    if holder != sessionID && claim.sessionID == sessionID { return nil }
                    return (claim, fence)
                case .refused: return nil
                case .undecided: continue  // the run changed as we shut the claim out: read again
                }
            } catch {
                if Task.isCancelled { throw error }
                try? await backoff.pause()
            }
        }
    }

    /// What a claim whose outcome was unknown came to.
    enum ClaimRecovery: Sendable {
        case landed(Claim, fence: Int64)
        /// It did not land, and never can.
        case refused
        /// The run changed meanwhile: read again.
        case undecided
    }

    /// After a claim whose outcome is unknown: whether our transaction made it. It did if
    /// the claim key is ours and the run record is of the attempt that transaction wrote (its
    /// version after ours, running here, with the claim's token). The record need not be at that
    /// version any more: a cancel request may have moved it on before this read, and the claim
    /// is ours all the same (given up, the run would stay "running" under our live claim, with
    /// nobody at work on it, for as long as our session lasts). The fence is our transaction's
    /// version, so that a cancel request past it is noticed as any other.
    ///
    /// A record still at the version the claim checks proves nothing: a request the server had
    /// taken but not committed when we gave up on it (an etcd request past its deadline) can
    /// still land after this read, leaving a claim of ours that nobody works on while our session
    /// lives (held, so no other worker takes it over). So the record is moved past that version,
    /// unchanged, which the claim can then never land after; should the claim land first, that
    /// write is refused and the next read finds it.
    ///
    /// The job's incarnation key is not read: a claim refused by it left the record at `version`
    /// (shut out as any refused claim; the claim tried again is refused by the key and says so),
    /// and a claim that landed passed it then. Such a claim is ours however the job fares since,
    /// and kept (its later writes are fenced by the run's version and the claim): given up, it
    /// would hold the run for nobody while our session lives.
    func recoverClaim(
        expecting record: RunRecord, after version: Int64, claimKey: Key, finalEntry: HistoryEntry?, sessionID: String
    ) async throws -> ClaimRecovery {
        guard let current = try await store.get(runKey) else { return .refused }
        if current.version == version { return try await shutOut(current) ? .refused : .undecided }
        guard current.version > version,
            let stored = try? current.decoded(RunRecord.self), stored.status == .running, stored.worker == worker,
            stored.attempt == record.attempt, stored.claimVersion == version + 1,
            let claim = try await store.get(claimKey), claim.isEphemeral, claim.value == Array(worker.utf8),
            stored.attemptToken(version: current.version, modRevision: current.modRevision) == claim.createRevision
        else { return .refused }
        logger.info("claim landed despite an unknown outcome", metadata: ["run": "\(runKey)"])
        return .landed(
            Claim(
                record: record, claimKey: claimKey, token: claim.createRevision, sessionID: claim.ownerSession ?? sessionID,
                finalEntry: finalEntry),
            fence: version + 1)
    }

    /// Rewrites the run record read as `current`, unchanged, at its version; `false` when it
    /// changed first. A running record keeps its attempt's token, which its version named.
    func shutOut(_ current: Record) async throws -> Bool {
        var value = current.value
        if var unchanged = try? current.decoded(RunRecord.self) {
            unchanged.token = unchanged.attemptToken(version: current.version, modRevision: current.modRevision)
            value = try SchedulerJSON.encode(unchanged)
        }
        do {
            _ = try await store.transaction([.set(runKey, value: value, ifVersion: current.version)])
            return true
        } catch let error as CoordinationError where error.code == .versionConflict || error.code == .noNode {
            return false
        }
    }

    /// Runs the handler under the session guard, with the timeout and stop requests.
    ///
    /// A stop (timeout, cancel request, hand-back, lost session) cancels the handler and still
    /// waits for it to return: until then the attempt may still be at work (a shell command being
    /// stopped), and the run must not end, nor be taken over, while it is. What the handler then
    /// returns or throws (a ``RunFailure``) gives the entry its output tails. `onStart` is called
    /// as the handler is started, not at all when a stop came first, with the instant its timeout
    /// counts from.
    func perform(
        _ claim: Claim, control: RunControl, onStart: @escaping @Sendable (ContinuousClock.Instant) -> Void = { _ in }
    ) async -> Outcome {
        let record = claim.record
        let timeout = spec.timeout
        let begun = ContinuousClock.now
        let deadline = timeout.map { begun.advanced(by: $0) }
        let context = RunContext(
            job: record.job, run: record.run, item: record.item, itemCount: record.itemCount,
            itemParameter: record.itemParameter, payload: spec.payload, attempt: record.attempt,
            scheduledAt: record.scheduledAt, fencingToken: claim.token, worker: worker, deadline: deadline,
            reportProgress: { [self] text in try await writeProgress(text, claim: claim, control: control) },
            claimSession: { [store] in
                let now = store.session
                guard now.sessionID != claim.sessionID else { return now }
                return SessionEvent(state: .expired, sessionID: claim.sessionID, ttl: now.ttl, lastContact: .now)
            })
        let handler = handler
        // What the handler returned or threw, kept aside: a lost session ends the guard with its
        // own error, after the handler has ended.
        let ended = HandlerEnd()
        let stop: Stop?
        do {
            let margin = Worker.selfFencingMargin(sessionTTL: store.session.ttl)
            stop = try await SessionGuard.run(store: store, sessionID: claim.sessionID, margin: margin) {
                // Asked to stop before the start (a cancel request that came right after the
                // claim, the grace period over): the handler is not started at all, not started
                // and cancelled, which a command it runs may not notice before it is under way.
                if let early = Self.stop(for: control.stops.current) { return early }
                onStart(begun)
                return await withTaskGroup(of: Stop?.self) { group in
                    group.addTask {
                        do {
                            ended.record(.success(try await handler(context)))
                        } catch {
                            ended.record(.failure(error))
                        }
                        return nil
                    }
                    group.addTask {
                        for await reason in control.stops.subscribe() {
                            if let stop = Self.stop(for: reason) { return stop }
                        }
                        return nil  // cancelled
                    }
                    if let deadline {
                        group.addTask {
                            do { try await Task.sleep(until: deadline, clock: .continuous) } catch { return nil }
                            return .timedOut
                        }
                    }
                    // The first to end decides; the handler, if it was not first, is stopped and
                    // waited for (the group does not end before its tasks do).
                    let first = await group.next() ?? nil
                    group.cancelAll()
                    return first
                }
            }
        } catch RecipeError.sessionLost(let why) {
            return .sessionLost(why, ended.output)
        } catch {
            // The worker itself was cancelled (not a graceful shutdown): give the run back.
            return .handBack
        }
        switch stop {
        case .timedOut: return .timedOut(ended.output)
        case .cancelled: return .cancelled(ended.output)
        case .handBack: return .handBack
        case nil: break
        }
        switch ended.result {
        case .success(let output):
            return .succeeded(output)
        case .failure(let failure as RunFailure) where !Task.isCancelled:
            return .failed(failure)
        case .failure(let error) where !Task.isCancelled:
            return .failed(RunFailure(String(describing: error)))
        case .failure, nil:
            // The worker itself was cancelled (not a graceful shutdown): give the run back.
            return .handBack
        }
    }

    /// What stopped an attempt before its handler returned.
    enum Stop: Sendable {
        case timedOut, cancelled, handBack
    }

    /// What a stop request makes of the attempt; `nil` for none.
    static func stop(for reason: RunControl.StopReason?) -> Stop? {
        switch reason {
        case .cancelRequested: .cancelled
        case .shutdown: .handBack
        case nil: nil
        }
    }

    /// How a handler ended: what it returned or threw.
    final class HandlerEnd: Sendable {
        private let ending = Mutex<Result<RunOutput, any Error>?>(nil)

        func record(_ result: Result<RunOutput, any Error>) { ending.withLock { $0 = result } }

        var result: Result<RunOutput, any Error>? { ending.withLock { $0 } }

        /// The tails a stopped handler left, whether it returned or threw a ``RunFailure``.
        var output: RunOutput? {
            switch result {
            case .success(let output): RunOutput(stdoutTail: output.stdoutTail, stderrTail: output.stderrTail)
            case .failure(let failure as RunFailure): RunOutput(stdoutTail: failure.stdoutTail, stderrTail: failure.stderrTail)
            case .failure, nil: nil
            }
        }
    }

    /// What the log says about a run's end.
    static func endMetadata(_ record: RunRecord, ended: HistoryEntry?, requeued: RunRecord?) -> Logger.Metadata {
        var said: Logger.Metadata = ["job": "\(record.job)", "run": "\(record.run)", "attempt": "\(record.attempt)"]
        if let ended { said["outcome"] = "\(ended.outcome.rawValue)" }
        if let message = ended?.message { said["message"] = "\(message)" }
        if let requeued { said["next attempt"] = "\(requeued.attempt)" }
        return said
    }

    /// Writes what the attempt came to, fenced. Returns the outcome the write recorded, which is
    /// not always the attempt's: a hand-back that a cancel request came to as it was written ends
    /// the run `cancelled` (``HistoryEntry/endedByCancel(_:)``). `nil` when the fence refused the write.
    @discardableResult
    func settle(_ outcome: Outcome, claim: Claim, control: RunControl) async -> HistoryEntry.Outcome? {
        var record = claim.record
        let now = clock.now()
        func entry(_ outcome: HistoryEntry.Outcome, _ message: String?, _ out: String? = nil, _ err: String? = nil)
            -> HistoryEntry
        {
            HistoryEntry(
                job: record.job, run: record.run, item: record.item, worker: worker, token: claim.token,
                attempt: record.attempt, scheduledAt: record.scheduledAt, startedAt: record.startedAt, finishedAt: now,
                outcome: outcome, message: message, stdoutTail: out, stderrTail: err)
        }
        // Either the run ends here (deleted, with a final entry) or goes back to pending.
        var ended: HistoryEntry
        var requeue: RunRecord?
        func retryOrEnd(_ result: HistoryEntry) -> HistoryEntry {
            if spec.retry.allowsAnother(after: record.attempt) {
                var next = record
                next.status = .pending
                next.attempt += 1
                next.notBefore = now.addingTimeInterval(spec.retry.backoff(beforeAttempt: next.attempt).seconds)
                next.startedAt = nil
                next.progress = nil
                requeue = next
            }
            return result
        }
        switch outcome {
        case .succeeded(let output):
            ended = entry(.succeeded, output.message, output.stdoutTail, output.stderrTail)
        case .failed(let failure):
            ended = retryOrEnd(entry(.failed, failure.message, failure.stdoutTail, failure.stderrTail))
        case .timedOut(let output):
            ended = retryOrEnd(
                entry(.timedOut, "timed out after \(DurationText.format(spec.timeout ?? .zero))", output?.stdoutTail, output?.stderrTail))
        case .cancelled(let output):
            // The request says why: a user's cancel, or a newer run replacing this one.
            let reason = await cancelReason() ?? "cancelled by request"
            ended = entry(.cancelled, reason, output?.stdoutTail, output?.stderrTail)
        case .sessionLost(let why, let output):
            // Only reachable if our claim survived (a long suspension that ended in a reconnect):
            // after an expiry the claim is gone and the fenced write below is refused.
            guard await waitForUsableSession() else { return nil }
            ended = retryOrEnd(entry(.abandoned, "session lost: \(why)", output?.stdoutTail, output?.stderrTail))
        case .handBack:
            // Recorded, so that the run's history shows the attempt that was given up (its worker,
            // token and start); the run goes on at the same attempt.
            ended = entry(.handedBack, "its worker stopped before the run ended; the run waits, pending, for another worker")
            record.status = .pending
            record.worker = worker
            record.startedAt = nil
            record.progress = nil
            requeue = record
        case .notStarted(let previousWorker):
            // As a hand-back, but unrecorded (nothing ran), unless a cancel request ends the run.
            record.startedAt = nil
            ended = entry(.handedBack, "its claim was given back before the run started")
            record.clearClaim()
            record.worker = previousWorker
            requeue = record
        }
        if case .handBack = outcome {} else if case .notStarted = outcome {} else if let final = claim.finalEntry {
            ended = final
            requeue = nil
        }
        let runKey = runKey
        let claimKey = claim.claimKey
        var requeued = requeue
        // A cancel request read back while the attempt ran (a progress report's lost reply) is
        // behind our fence: the write below is not refused for it, as it is for a later one.
        if requeued != nil, let reason = control.cancelPassed {
            ended = ended.endedByCancel(reason)
            requeued = nil
        }
        // Until the write lands or the fence refuses it. Giving up while our claim lives would
        // leave the run "running" under a claim nobody works on for as long as this worker's
        // session lasts; once that session has ended (or been out of contact past its TTL, when the
        // server ends it), the claim goes with it and others take over.
        // A job may be handed back any number of times: those entries are outside the count that
        // lets a write skip trimming (``HistoryRoom``). Where that count holds, a hand-back is
        // recorded only while it fits beside all the results still to come, so that it never
        // pushes one out; elsewhere every write trims anyway.
        var entries = [ended]
        if case .notStarted = outcome, ended.outcome == .handedBack { entries = [] }
        if ended.outcome == .handedBack, !entries.isEmpty, let historyRoom {
            let count = try? await history.entryCount(of: record.job)
            if !(count.map(historyRoom.recordsHandBack(entries:)) ?? false) { entries = [] }
        }
        let room = historyRoom
        // Asked to stop, the run may have been removed with its job (its claim with it) and the
        // job added again: a run of the same id then has a record whose version started over,
        // and may equal our fence. Only our own claim, by its revision, makes the run still ours.
        // Any stop: the first reason is kept, and a removal may follow a shutdown's.
        let mayBeRemoved = control.stops.current != nil
        let givingBack = if case .notStarted = outcome { true } else { false }
        var backoff = Backoff(first: .milliseconds(10), cap: .seconds(1))
        while true {
            // The claim's deletion, left out of a give-back whose claim is gone already.
            var release: [Coordination.Operation] = [.delete(claimKey, ifVersion: nil)]
            do {
                if givingBack {
                    switch try await giveBackHold(claim, fence: control.fence) {
                    case .claimed: break
                    case .claimGone: release = []
                    case .lost:
                        logger.info(
                            "give-back refused: the run is no longer ours", metadata: ["job": "\(record.job)", "run": "\(record.run)"])
                        return nil
                    }
                } else if mayBeRemoved, try await !claimIsOurs(claim) {
                    logger.info(
                        "write refused: the run's claim is no longer ours", metadata: ["job": "\(record.job)", "run": "\(record.run)"])
                    return nil
                }
                let releasing = release
                try await history.transact(job: record.job, entries: entries, room: room) {
                    let fence = control.fence
                    let last: Coordination.Operation =
                        if let requeued { .set(runKey, value: try SchedulerJSON.encode(requeued), ifVersion: fence) } else {
                            .delete(runKey, ifVersion: fence)
                        }
                    return [.check(runKey, version: fence)] + releasing + [last]
                }
                // The message and metadata are autoclosures: built only when info is logged (not on the claims path's default).
                logger.info(
                    "\(ended.outcome == .handedBack ? "run handed back" : requeued == nil ? "run ended" : "run ended; it will be retried")",
                    metadata: Self.endMetadata(record, ended: ended, requeued: requeued))
                return ended.outcome
            } catch let error as CoordinationError where error.isFenceRefusal(within: 2 + release.count) {
                // A give-back's claim went with its session as the write was sent: look again.
                if givingBack, !release.isEmpty, error.failedOperation == 1 { continue }
                // Refused by the fence. A cancel request also moves the run's version, and so
                // does a progress report of ours whose reply was lost: if the run is still ours
                // (same claim), follow it and write again.
                guard let later = await adoptLaterVersion(claim: claim, control: control) else {
                    logger.info(
                        "write refused by the fence; the run is no longer ours",
                        metadata: ["job": "\(record.job)", "run": "\(record.run)", "reason": "\(error.message)"])
                    return nil
                }
                // A cancel request that came once the attempt's outcome was decided still ends the
                // run: retried or handed back, the run its canceller was told it stopped ran again
                // (a replaced run before the fire time replacing it).
                if later.cancelRequested, requeued != nil {
                    ended = ended.endedByCancel(later.cancelReason ?? "cancelled by request")
                    entries = [ended]
                    requeued = nil
                }
                continue
            } catch {
                logger.warning("could not record the run's end", metadata: ["run": "\(record.run)", "error": "\(error)"])
                try? await backoff.pause()  // not cut short: what is recorded must land
                // Waited for before the session is judged: one cut off past its safe window may
                // still come back (the server ends it somewhat later: ZooKeeper on its next tick,
                // etcd a keep-alive's trip later), and then our claim lives on, which nobody else
                // can take over. Given up then, the run sat "running" with nobody at work on it.
                let usable = await waitForUsableSession()
                // A give-back is fenced by the run's version alone (``giveBackHold(_:fence:)``):
                // it outlives the session its claim landed in.
                guard givingBack ? usable : sessionStillHolds(claim.sessionID) else { return nil }
            }
        }
    }

    /// Whether a claim being given back (``giveBack(_:control:)``) is still ours to give back.
    enum GiveBackHold: Sendable {
        /// Our claim is there: the give-back deletes it.
        case claimed
        /// Our claim went with the session it landed in, but the run is still as our claim left it.
        case claimGone
        /// Someone else's claim is there, or the run moved on.
        case lost
    }

    /// A claim is given back because its session was replaced as it was sent, and that session
    /// too may end before the give-back lands (replaced again), taking the claim with it. The run
    /// is still ours then while its record is at `fence`, running here at this attempt under the
    /// claim's registration: nobody can claim it without moving that version. Given up, the run
    /// sat "running" with nobody at work on it until taken over, recorded `abandoned` (its last
    /// attempt, with no retry left) although its handler never started.
    ///
    /// A takeover can still land first: once the claim's session has ended, the run reads as any
    /// run whose worker died mid-attempt (the claim, which alone knew its session, is gone), and
    /// nothing this worker writes can precede that moment. The taker then records the attempt
    /// `abandoned`, once, and moves the version; the give-back is refused and writes nothing.
    func giveBackHold(_ claim: Claim, fence: Int64) async throws -> GiveBackHold {
        if let current = try await store.get(claim.claimKey) { return current.createRevision == claim.token ? .claimed : .lost }
        guard let current = try await store.get(runKey), current.version == fence,
            let stored = try? current.decoded(RunRecord.self), stored.status == .running, stored.worker == worker,
            stored.attempt == claim.record.attempt, stored.registration == claim.record.registration,
            stored.claimVersion == claim.record.claimVersion
        else { return .lost }
        return .claimGone
    }

    /// When the run record moved past our fence but is still this attempt's (running here at
    /// this attempt with this claim's token, and the claim still ours), moves the fence along and
    /// returns the record. It moved by a cancel request (which then stops the attempt, should the
    /// view not have told yet, and is noted for its end: ``RunControl/cancelPassed``), by a
    /// write of ours whose reply was lost, or by another worker's ``shutOut(_:)``. While our
    /// claim lives nobody else can claim the run; the write that follows checks the version read here, so a
    /// takeover after this read still refuses it.
    func adoptLaterVersion(claim: Claim, control: RunControl) async -> RunRecord? {
        guard let current = try? await store.get(runKey), current.version > control.fence,
            let value = try? current.decoded(RunRecord.self), value.status == .running, value.worker == worker,
            value.attempt == claim.record.attempt,
            value.attemptToken(version: current.version, modRevision: current.modRevision) == claim.token,
            (try? await store.get(claim.claimKey))?.createRevision == claim.token
        else { return nil }
        if value.cancelRequested {
            control.stop(.cancelRequested)
            control.notePassedCancel(reason: value.cancelReason ?? "cancelled by request")
        }
        control.advance(to: current.version)
        return value
    }

    /// The reason the run's cancel request gives (``RunRecord/cancelReason``), if the record
    /// can be read and has one.
    func cancelReason() async -> String? {
        guard let current = try? await store.get(runKey), let value = try? current.decoded(RunRecord.self) else { return nil }
        return value.cancelReason
    }

    /// Whether the run's claim is still the one this attempt created: a claim of the same key
    /// made since (the job removed and added again) has another revision.
    func claimIsOurs(_ claim: Claim) async throws -> Bool {
        try await store.get(claim.claimKey)?.createRevision == claim.token
    }

    func writeProgress(_ text: String, claim: Claim, control: RunControl) async throws {
        let claimKey = claim.claimKey
        var record = candidate.record
        // The claim first (see ``claimIsOurs(_:)``): the version alone may be a new run's.
        guard try await claimIsOurs(claim), var current = try await store.get(runKey) else {
            throw SchedulerError.fenced(job: record.job, run: record.run)
        }
        if current.version > control.fence {
            // Moved on while still ours: rewritten unchanged by a worker shutting out a claim of
            // its own whose outcome it could not tell (``shutOut(_:)``), or by a cancel request
            // (which stops the attempt: refused, as before). Refused for the first, a healthy
            // attempt's report failed as if the run had been taken over.
            guard let adopted = await adoptLaterVersion(claim: claim, control: control), !adopted.cancelRequested,
                let reread = try await store.get(runKey)
            else { throw SchedulerError.fenced(job: record.job, run: record.run) }
            current = reread
        }
        guard current.version == control.fence else { throw SchedulerError.fenced(job: record.job, run: record.run) }
        record = try current.decoded(RunRecord.self)
        // Past the claim's version: the token goes on in the record (takers name the attempt by it).
        record.token = record.attemptToken(version: current.version, modRevision: current.modRevision)
        record.progress = text
        do {
            let results = try await store.transaction([
                .check(runKey, version: control.fence), .check(claimKey, version: nil),
                .set(runKey, value: try SchedulerJSON.encode(record), ifVersion: control.fence),
            ])
            if case .set(let updated) = results[2] { control.advance(to: updated.version) }
        } catch let error as CoordinationError where error.isFenceRefusal(within: 3) {
            throw SchedulerError.fenced(job: record.job, run: record.run)
        } catch let error as CoordinationError where error.code == .connectionLoss || error.code == .timeout {
            // The outcome is unknown. Landed, the report moved the record past our fence, and
            // every later write of the attempt would be refused as if the run were someone
            // else's: read it back, and follow it while the run is still ours.
            guard let adopted = await adoptLaterVersion(claim: claim, control: control), adopted.progress == text else { throw error }
        }
    }

    /// Whether what session `sessionID` holds (our claim) can still be trusted: the same session,
    /// connected or suspended for less than its TTL. Once not, the server has ended it or soon
    /// will, and the claim goes with it, unless contact comes back first (the server ends a
    /// session somewhat after that window): ask once contact has been waited for.
    func sessionStillHolds(_ sessionID: String) -> Bool {
        let session = store.session
        return session.sessionID == sessionID && session.isSafe()
    }

    /// Waits at most two TTLs for a usable session; with `replacing`, for one other than that
    /// session (which has expired, though the store may not have noticed yet).
    func waitForUsableSession(replacing expired: String? = nil) async -> Bool {
        await store.waitForSession(within: store.session.ttl * 2) { event in
            (event.state == .connected || event.state == .reconnected) && event.sessionID != expired
        } != nil
    }
}
