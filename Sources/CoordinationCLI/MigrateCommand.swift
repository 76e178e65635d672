import ArgumentParser
import Coordination
import CoordinationMigration
import Foundation
import Logging
import Synchronization

/// `coord migrate`: copies a subtree from one store to another (``StoreMigration`` does the work;
/// this command parses, opens, prints).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy keys from one store to another (ZooKeeper, etcd), verify, and keep mirroring.",
        discussion: """
            Copies every persistent key under --prefix (default: the whole namespace of --from) \
            to the same path under --to's namespace, values byte for byte. Ephemeral keys are \
            skipped and counted: they belong to live sessions, whose clients re-create them. \
            Versions and revisions are the target's own. Sequential counters are carried \
            forward, so a sequential key created on the target afterwards sorts after the copied \
            ones (names ending in 10 digits, such as job-0000000042 or 0000000042); a ZooKeeper target's counter is left behind names \
            numbered over \(StoreMigration.maxProbedGap) ahead of it (login-1700000000 only looks sequential), still passing the \
            others under the same parent, and the summary says where.

            Running it again is safe: keys already identical on the target are skipped, \
            missing ones created, different ones overwritten (counted and listed). After an \
            interruption, run the same command again to finish (a failure, SIGINT or SIGTERM \
            says how many keys were copied; a signal once the summary is printed changes \
            nothing). Keys that exist only on the target are left alone (except with --follow).

            Source keys the target can never hold are listed with why and not copied, the \
            others are, and the run exits 6: keys another tool wrote that are no valid keys \
            (on etcd /app/dir/, /app/a//b; on ZooKeeper a name or path over the length limit, \
            /zookeeper inside a namespace, and each znode beneath those), values over \
            1,000,000 bytes. A --prefix or a source \
            namespace that does not exist is status 2. An ephemeral key on the target belongs to a live session: \
            it is never overwritten, and the source keys at or beneath it are listed as not \
            copied (status 1).

            The same store under two names (localhost and 127.0.0.1, two members of one \
            cluster) with overlapping subtrees is refused (status 7): before copying, a marker \
            key written through --to is looked for through --from. --dry-run writes nothing, \
            so it does not check (and cannot copy a store into itself).

            The namespaces go in the URLs: the global --namespace is refused (status 64), \
            COORD_NAMESPACE too (status 7, a setting from the environment), and a config \
            file's 'namespace' is ignored.

            The other global settings (--session-ttl, --username, --password-file or \
            COORD_PASSWORD, --tls-ca, --tls-cert, --tls-key, their variables and config keys) \
            apply to both stores, where they fit: TLS files to etcds:// only, credentials to \
            ZooKeeper and etcd, never memory://, the password only to a URL that names a user \
            (its own or --username's). What a URL says itself wins: its user and password, \
            ttl or sessionTimeout, cacert, cert, key. To log in to one store only, put the user \
            in its URL (etcd://root@host:2379/app) and the password in --password-file. Two \
            different passwords need one in its URL (etcd://user:password@host/app): coord \
            prints it as ***, but the command line is visible to every user of the machine.

            --dry-run reads both sides and prints what would be copied, and how many keys it \
            would overwrite; it writes nothing (namespace keys that opening a store made are \
            removed again while empty, as after a refused run, and always on the source).

            --verify compares both sides' keys and value digests after copying (with \
            --dry-run: only compares). Keys missing or different on the target are listed \
            (the first ones) and exit 1; keys only on the target are a note, not a failure \
            (except with --follow); source keys that are no valid keys are never identical. \
            Interrupted, it prints no verdict.

            --follow keeps mirroring changes (puts and deletes) through a watch until Ctrl-C \
            or SIGTERM; then it catches up (the target becomes a mirror: keys deleted on the \
            source are deleted on the target), reports how far behind it was, and verifies. \
            A Ctrl-C (SIGINT) then stops the catch-up or the verify, as one stops a copy; a \
            second SIGTERM does not (a supervisor may repeat it, and `timeout` sends two). \
            Stderr notes when contact with the source is lost and when it is back, and at once \
            when a source key becomes one the target cannot hold (a value grown past \
            1,000,000 bytes): the target keeps what it had there, and unless the key fits again \
            or is deleted before the stop, the catch-up lists it and the verify fails (status 1).

            Progress goes to stderr (a line redrawn in place on a terminal, a plain line \
            every 5 seconds otherwise, and with --follow at least every 10 seconds even when \
            idle); the summary goes to stdout.

            EXAMPLES
              ZK=zookeeper://127.0.0.1:2181/myapp ETCD=etcd://127.0.0.1:2379/myapp
              coord migrate --from $ZK --to $ETCD --dry-run
              coord migrate --from $ZK --to $ETCD --verify
              coord migrate --from $ZK --to $ETCD --prefix /config
              coord migrate --from $ZK --to $ETCD --follow
              coord migrate --from $ETCD --to $ZK --verify --dry-run
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Option(help: ArgumentHelp("The store to copy from.", valueName: "url")) var from: String
    @Option(help: ArgumentHelp("The store to copy to.", valueName: "url")) var to: String
    @Option(help: ArgumentHelp("The subtree to copy, the same path on both sides.", valueName: "key")) var prefix = "/"
    @Flag(help: "Print what would be copied; write nothing.") var dryRun = false
    @Flag(help: "Compare both sides afterwards (alone with --dry-run); exit 1 on a key missing or different on the target.")
    var verify = false
    @Flag(help: "Keep mirroring changes until Ctrl-C or SIGTERM, then catch up and verify.") var follow = false
    @Option(parsing: .unconditional, help: "Writes in flight at once.") var concurrency = 16
    @Option(parsing: .unconditional, help: "How many differences --verify lists.") var showDifferences = 20
    @Option(parsing: .unconditional, help: ArgumentHelp("Reads in flight when reading ZooKeeper level by level.", visibility: .hidden))
    var readWidth = 64
    @Option(parsing: .unconditional, help: ArgumentHelp("Keys written per transaction (at most 64).", visibility: .hidden))
    var batchSize = 64

    /// Checked first in `run()`, not in `validate()`, so that a bad value is coord's one line
    /// (status 64), as for every command's own options, not argument-parser's usage text.
    func checkOptions() throws {
        guard concurrency >= 1 else { throw CommandLineProblem("--concurrency must be at least 1, got \(concurrency)") }
        guard readWidth >= 1 else { throw CommandLineProblem("--read-width must be at least 1, got \(readWidth)") }
        guard (1...64).contains(batchSize) else { throw CommandLineProblem("--batch-size must be between 1 and 64, got \(batchSize)") }
        guard showDifferences >= 0 else { throw CommandLineProblem("--show-differences must be 0 or more, got \(showDifferences)") }
        if follow && dryRun { throw CommandLineProblem("--follow writes; it cannot be combined with --dry-run") }
    }

    func run() async throws {
        try checkOptions()
        let (configuration, logger) = try await CommandContext.resolve(global, checking: Self.refuseNamespace)
        let (source, target) = try await Self.storeURLs(from: from, to: to, configuration: configuration)
        logger.debug("stores resolved", metadata: [
            "from": "\(source)", "to": "\(target)", "config.file": "\(configuration.file ?? "none")",
        ])
        let prefix: Key
        do {
            prefix = try Key(self.prefix)
        } catch var error {
            // Named by the option: "invalid key 'config'" alone left the user to guess which.
            error.message = "--prefix: " + error.message
            throw error
        }
        if Self.overlaps(source, target, prefix: prefix) {
            throw CoordinationError(
                .invalidConfiguration,
                "--from and --to are the same store with overlapping subtrees (\(source) and \(target) under \(prefix)); "
                    + "copy between different stores or non-overlapping namespaces")
        }
        var options = MigrationOptions(prefix: prefix, dryRun: dryRun)
        options.concurrency = concurrency
        options.batchSize = batchSize
        options.sourceReads = Self.readMode(for: source, width: readWidth)
        options.targetReads = Self.readMode(for: target, width: readWidth)

        // Whatever the outcome, namespace keys that opening made and nothing filled go again.
        let sourceNamespace = try await NamespaceRestorer.before(opening: source, role: "source", logger: logger)
        let targetNamespace: NamespaceRestorer
        do {
            targetNamespace = try await NamespaceRestorer.before(opening: target, role: "target", logger: logger)
        } catch {
            await sourceNamespace.restore(logger: logger)
            throw error
        }
        let from: any CoordinationStore
        let to: any CoordinationStore
        do {
            from = try await Self.open(source, role: "source", logger: logger)
            do {
                to = try await Self.open(target, role: "target", logger: logger)
            } catch {
                await from.close()
                throw error
            }
        } catch {
            await sourceNamespace.restore(logger: logger)
            await targetNamespace.restore(logger: logger)
            throw error
        }
        // Allowed (it tries the flags out), but never what someone with data means.
        if source.scheme == "memory" {
            StandardStreams.writeError("coord: note: --from memory:// is empty: the embedded store lives only inside one coord process")
        }
        if target.scheme == "memory" && !dryRun {
            StandardStreams.writeError("coord: note: --to memory:// keeps nothing: the copy goes when this coord process ends")
        }
        let migration = StoreMigration(source: from, target: to, options: options, logger: logger)
        let printer = MigrationProgressPrinter(terminal: isatty(STDERR_FILENO) != 0)
        let work: @Sendable (MigrationTracker) async throws -> Void = { tracker in
            let outcome: Result<Void, any Error>
            do {
                // A dry run writes nothing, not even the marker: it cannot copy a store into itself.
                if !dryRun && Self.wouldOverlap(source, target, prefix: prefix), try await migration.targetIsSource() {
                    throw CoordinationError(
                        .invalidConfiguration,
                        "--from \(source) and --to \(target) reach the same store (a marker key written through --to "
                            + "was read through --from), and the subtrees overlap (\(source.namespace.appending(prefix)) and "
                            + "\(target.namespace.appending(prefix))): the copy would go into itself; "
                            + "copy between different stores or non-overlapping namespaces")
                }
                // A typo in a namespace or --prefix would otherwise copy nothing and succeed (after the
                // marker check: a refused self-copy is the first thing to say). A namespace key that
                // was missing but has keys beneath it (written by another etcd tool) is no typo.
                if sourceNamespace.missing.last == source.namespace, try await Self.holdsNothing(from) {
                    throw CoordinationError(
                        .noNode, "the source's namespace \(source.namespace) does not exist on \(source) (is the namespace in --from right?)")
                }
                if !prefix.isRoot, try await !from.exists(prefix) {
                    throw CoordinationError(.noNode, "--prefix \(prefix) does not exist on the source \(source)", key: prefix)
                }
                try await perform(migration, printer: printer, source: source, target: target, tracker: tracker)
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            printer.finish()
            // Everything is said (or about to be thrown): a signal from here on only cuts short
            // the closing of the stores, and changes nothing about the run's outcome.
            tracker.finished()
            await from.close()
            await to.close()
            await sourceNamespace.restore(logger: logger)
            await targetNamespace.restore(logger: logger)
            try outcome.get()
        }
        try await Self.stoppingOnSignal(dryRun: dryRun, printer: printer, work)
    }

    private func perform(
        _ migration: StoreMigration, printer: MigrationProgressPrinter, source: StoreURL, target: StoreURL,
        tracker: MigrationTracker
    ) async throws {
        let onlyVerify = verify && dryRun
        var held: MigrationProblem?
        var skipped: CoordinationError?
        if !onlyVerify && !follow {
            let report: MigrationReport
            do {
                report = try await migration.run { progress in
                    tracker.note(progress)
                    printer.report(progress)
                }
            } catch var error as CoordinationError where !dryRun {
                // Whatever stopped it (the target or the source gone, a refused write), what is
                // copied stays copied, and a second run skips it.
                let counts = tracker.counts
                error.message += "; the migration had copied \(Self.keys(counts.copied)) (and found \(counts.identical) identical) "
                    + "before this" + Self.resumeAdvice(error.code)
                throw error
            }
            printer.finish()
            tracker.copied(report.counts)
            migration.logger.info("migration phases", metadata: [
                "ended": "\(report.phases.map { "\($0.phase.rawValue) at \(Self.format($0.endedAt))" }.joined(separator: ", "))"
            ])
            StandardStreams.writeLine(Self.summary(report.counts, elapsed: report.elapsed, rate: report.keysPerSecond, dryRun: dryRun))
            if report.counts.heldByEphemeral > 0 {
                StandardStreams.writeLine(Self.heldLine(report.counts, dryRun: dryRun))
                held = MigrationProblem(Self.heldProblem(report.counts, dryRun: dryRun))
            }
            if report.counts.skipped > 0 {
                skipped = Self.skippedProblem(report.counts, dryRun: dryRun)
            }
            if report.counts.countersLeftBehind > 0 {
                StandardStreams.writeError("coord: note: " + Self.countersLeftBehindNote(report.counts))
            }
            if report.counts.sourceKeys == 0 && report.counts.skipped == 0 && source.scheme != "memory" && migration.options.prefix.isRoot {
                StandardStreams.writeError("coord: note: the source holds no persistent key under \(prefix) (is --prefix or the namespace in --from right?)")
            }
        }
        if follow {
            let caughtUp = try await runFollow(migration, printer: printer, tracker: tracker)
            if caughtUp.skipped > 0 {
                StandardStreams.writeLine(Self.skippedLines(caughtUp, dryRun: false))
                skipped = Self.skippedProblem(caughtUp, dryRun: false)
            }
        }
        if verify || follow {
            tracker.verifying()
            let report: VerificationReport
            do {
                report = try await migration.verify(limit: showDifferences, mirror: follow, progress: printer.report)
            } catch var error as CoordinationError where !onlyVerify {
                // The copy is done: only its check failed, and a check alone can be run again.
                printer.finish()
                let done = follow ? "the catch-up after --follow finished" : "the copy finished (\(Self.keys(tracker.counts.copied)) copied)"
                error.message = done + ", but verifying it failed: " + error.message + "; run with --verify --dry-run to compare again"
                throw error
            }
            // Interrupted while comparing: whatever was read is no verdict (stderr says why it stopped).
            try Task.checkCancellation()
            printer.finish()
            for line in Self.verifyLines(report, mirror: follow, limit: showDifferences) { StandardStreams.writeLine(line) }
            if report.differenceCount > 0 {
                let problem = "verification found \(Self.plural(report.differenceCount, "difference")) between \(source) and \(target)"
                throw MigrationProblem(problem + (skipped.map { "; also \($0.message)" } ?? ""))
            }
            if skipped == nil && !report.foreignOnSource.isEmpty {
                skipped = CoordinationError(
                    .invalidKey,
                    "verification: \(Self.plural(report.foreignOnSource.count, "source key")) under \(prefix) cannot be read or copied "
                        + "(another tool wrote them; they are no valid keys: listed above), so the sides are not identical")
            }
        }
        // Keys the target can never hold: a failure of their own kind (6), which running again cannot mend.
        if let skipped { throw skipped }
        // Without --verify (whose differences list them), keys left uncopied still fail the run.
        if let held, !(verify || follow) { throw held }
    }

    /// What to do after a copy (or `--follow`) failed with `code`: resuming helps only where the failure can pass.
    static func resumeAdvice(_ code: CoordinationError.Code, following: Bool = false) -> String {
        switch ExitStatus(code) {
        case .unavailable, .versionConflict, .alreadyExists, .notFound, .notEmpty:
            following
                ? "; the target may lag behind the source: run the same command again to catch up and follow again"
                : "; run the same command again to finish: it resumes"
        case .accessDenied:
            "; once that is put right, running the same command again resumes"
        default:
            ""
        }
    }

    /// The verification's lines for stdout: the verdict, the differences, the source keys that
    /// cannot be read, and (a note) the keys only on the target that a copy leaves alone.
    static func verifyLines(_ report: VerificationReport, mirror: Bool, limit: Int) -> [String] {
        let verdict: String
        if report.differenceCount > 0 {
            verdict = plural(report.differenceCount, "difference")
        } else if !report.foreignOnSource.isEmpty {
            verdict = "the keys read are identical, but \(plural(report.foreignOnSource.count, "source key")) could not be read (no valid keys)"
        } else {
            let besides =
                (report.onlyOnTarget > 0 ? ["\(plural(report.onlyOnTarget, "key")) only on the target"] : [])
                + (report.parentsOnlyOnTarget > 0 ? ["\(plural(report.parentsOnlyOnTarget, "parent")) the source lacks on the target"] : [])
            verdict = besides.isEmpty ? "identical" : "identical for every source key; " + besides.joined(separator: "; ")
        }
        var lines = [
            "verify: \(keys(report.sourceKeys)) on the source (digest \(report.sourceDigest)), "
                + "\(report.targetKeys) on the target (digest \(report.targetDigest)): " + verdict
        ]
        lines += report.differences.map { "  " + $0.description }
        if report.differenceCount > report.differences.count {
            lines.append("  … and \(report.differenceCount - report.differences.count) more")
        }
        lines += report.foreignOnSource.prefix(limit).map { "  not a valid key on the source (never copied): \($0)" }
        if report.foreignOnSource.count > limit {
            lines.append("  … and \(report.foreignOnSource.count - limit) more")
        }
        if report.onlyOnTarget > 0 && !mirror {
            lines.append(
                "note: \(plural(report.onlyOnTarget, "key")) only on the target, left alone (--follow would delete them): "
                    + listed(Array(report.onlyOnTargetKeys.prefix(MigrationCounts.listedKeys)), of: report.onlyOnTarget))
        }
        if report.parentsOnlyOnTarget > 0 {
            lines.append(
                "note: \(plural(report.parentsOnlyOnTarget, "parent")) of source keys only on the target, which needs them: "
                    + "the source holds keys without their parents (another etcd client wrote them so), and --follow keeps them: "
                    + listed(Array(report.parentsOnlyOnTargetKeys.prefix(MigrationCounts.listedKeys)), of: report.parentsOnlyOnTarget))
        }
        return lines
    }

    /// Runs `work` (a copy, or a verification) until SIGINT or SIGTERM. On a signal it stops the
    /// work, says on one line what was done and that running again resumes, and dies of the
    /// signal as it would have without a handler (so the exit status is what it always was: 130
    /// or 143 in a shell). A signal after the work has said its outcome (``MigrationTracker/finished()``)
    /// interrupts nothing: the run ends as it would have, with the work's own status (only a
    /// second SIGINT then exits at once, for closing stores that hang). A signal
    /// while `--follow` mirrors only stops the mirroring (``MigrationTracker/stopFollowing()``):
    /// the work goes on to catch up and verify, and a SIGINT stops that (a SIGTERM does not).
    static func stoppingOnSignal(
        dryRun: Bool, printer: MigrationProgressPrinter, _ work: @escaping @Sendable (MigrationTracker) async throws -> Void
    ) async throws {
        let tracker = MigrationTracker(dryRun: dryRun)
        // Left listening until the process exits: a signal in the last moments (the stores
        // closing) must not kill a run whose outcome is already printed.
        let signals = SignalListener([SIGINT, SIGTERM])
        let task = Task { try await work(tracker) }
        let interrupting: @Sendable () async -> Void = {
            var stoppedFollowing = false
            var interruptedWhileClosing = false
            for await signal in signals.signals {
                if tracker.stopFollowing() {
                    stoppedFollowing = true
                    continue
                }
                let exitsAtOnce = RunCommand.Shutdown.laterSignalExitsAtOnce(signal.number)
                if tracker.isFinished {
                    // Only closing is left, the verdict printed: a SIGTERM changes nothing (letting
                    // the default actions back had one kill a finished run, 143), nor does a
                    // first SIGINT; a second one exits at once, for closing stores that hang.
                    guard exitsAtOnce else { continue }
                    if interruptedWhileClosing { SignalListener.dieOf(signal.number) }
                    interruptedWhileClosing = true
                    continue
                }
                guard stoppedFollowing, !exitsAtOnce else { return }
                StandardStreams.writeError("coord: SIGTERM again: still catching up and verifying (SIGINT stops that)")
            }
        }
        guard await !endOf(task, orElse: interrupting) else {
            return try await task.value
        }
        if tracker.isFinished {
            // It finished just as the signal came: only closing is left.
            return try await task.value
        }
        task.cancel()
        // Give the work a moment to stop, so that the counts say what was written; a request
        // stuck on an unresponsive server is not waited for.
        let ended = await endOf(task, orElse: { try? await Task.sleep(for: .seconds(3)) })
        if ended && tracker.isFinished, case .success = await task.result {
            return  // it finished before it saw the cancellation: nothing was interrupted
        }
        let number = signals.caughtSignal ?? SIGINT
        printer.finish()
        StandardStreams.writeError("coord: " + tracker.interruption(by: number == SIGTERM ? "SIGTERM" : "SIGINT"))
        signals.stop()
        SignalListener.dieOf(number)
    }

    /// Waits until `task` ends (`true`) or `other` returns (`false`), whichever comes first;
    /// `task` itself is left running either way.
    static func endOf(_ task: Task<Void, any Error>, orElse other: @escaping @Sendable () async -> Void) async -> Bool {
        let waiting = Mutex<(continuation: CheckedContinuation<Bool, Never>?, waiters: [Task<Void, Never>])>((nil, []))
        let ended = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            waiting.withLock { $0.continuation = continuation }
            let finish: @Sendable (Bool) -> Void = { ended in
                waiting.withLock { state in
                    defer { state.continuation = nil }
                    return state.continuation
                }?.resume(returning: ended)
            }
            let waiters = [
                Task { _ = await task.result; finish(true) },
                Task { await other(); finish(false) },
            ]
            waiting.withLock { $0.waiters = waiters }
        }
        for waiter in waiting.withLock({ $0.waiters }) { waiter.cancel() }
        return ended
    }

    /// Mirrors until SIGINT or SIGTERM (which `tracker` passes on), then catches up and says how
    /// far behind it was; a SIGINT then stops the catch-up as one stops a copy.
    /// - Returns: what the catch-up did.
    private func runFollow(
        _ migration: StoreMigration, printer: MigrationProgressPrinter, tracker: MigrationTracker
    ) async throws -> MigrationCounts {
        let description = "following changes under \(migration.options.prefix) (Ctrl-C or SIGTERM to stop, then catch up and verify)"
        let mirroring = Task {
            try await migration.follow { progress in
                printer.report(progress)
                if progress.phase == .following && progress.phaseEnded && printer.firstAnnouncement() {
                    printer.finish()
                    StandardStreams.writeLine(description)
                    // Said now, not only at stop: these keys are not being mirrored.
                    if progress.counts.skipped > 0 { StandardStreams.writeLine(Self.skippedLines(progress.counts, dryRun: false)) }
                }
                // A key that outgrew the target while following: the user must hear of it now,
                // not at stop, since the target silently keeps an older value meanwhile.
                for key in progress.notMirrored {
                    printer.finish()
                    StandardStreams.writeError("coord: note: " + Self.notMirroredNote(key))
                }
            }
        }
        // A signal cancels the mirroring, which then returns; or the mirroring fails. The heartbeat
        // decides nothing: on a terminal it has nothing to do and ends at once, which must not
        // end the following.
        tracker.following(stop: { mirroring.cancel() })
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                _ = try? await mirroring.value
                return true
            }
            group.addTask {
                await printer.heartbeat(every: .seconds(10))
                return false
            }
            // An outage of the source is otherwise silent: the counts stop, then go on.
            group.addTask {
                for await event in migration.source.sessionEvents() {
                    guard let note = Self.sourceNote(for: event.state) else { continue }
                    printer.finish()
                    StandardStreams.writeError("coord: note: " + note)
                }
                return false
            }
            while let decisive = await group.next(), !decisive {}
            group.cancelAll()
        }
        tracker.followingEnded()
        let followed: FollowReport
        let catchUp: MigrationReport
        let start: ContinuousClock.Instant
        do {
            followed = try await mirroring.value
            printer.finish()
            start = ContinuousClock.now
            catchUp = try await migration.run(mirror: true) { progress in
                tracker.note(progress)
                printer.report(progress)
            }
        } catch var error as CoordinationError {
            // Mirroring stopped part way (the target or the source gone): what was written stays.
            printer.finish()
            error.message += Self.resumeAdvice(error.code, following: true)
            throw error
        }
        printer.finish()
        tracker.copied(catchUp.counts)
        let counts = followed.counts
        StandardStreams.writeLine(
            "followed: \(Self.plural(followed.events, "event")) after the initial copy; in all \(Self.keys(counts.copied)) written, \(counts.identical) identical, "
                + "\(counts.deleted) deleted, \(counts.ephemeral) ephemeral skipped"
                + (counts.heldByEphemeral > 0 ? ", \(counts.heldByEphemeral) held by ephemeral keys on the target" : "")
                + "; \(Self.plural(followed.resnapshots, "re-snapshot")), longest apply delay \(Self.format(followed.maxApplyDelay))")
        StandardStreams.writeLine(Self.lagLine(catchUp, mirrored: followed.mirrored, took: ContinuousClock.now - start))
        return catchUp.counts
    }

    /// What stderr says when the source's session changes while `--follow` mirrors it; `nil` for
    /// the states that need no word.
    static func sourceNote(for state: SessionState) -> String? {
        switch state {
        case .suspended: "lost contact with the source; following goes on when it is back (the target lags until then)"
        case .reconnected: "contact with the source is back; what changed meanwhile is being mirrored"
        case .expired: "the source's session expired; following goes on with a new one"
        case .connected, .closed: nil
        }
    }

    /// What the catch-up after `--follow` found behind: keys it copied, and keys the follower had
    /// mirrored that it deleted. Keys that only the target ever had (never the source) are
    /// deleted too, to make the target a mirror, but they are not lag.
    static func lagLine(_ catchUp: MigrationReport, mirrored: Set<Key>, took: Duration) -> String {
        let behind = catchUp.deletedKeys.count { mirrored.contains($0) }
        let onlyOnTarget = catchUp.counts.deleted - behind
        var line = "lag at stop: \(keys(catchUp.counts.copied + behind)) behind "
            + "(\(catchUp.counts.copied) copied, \(behind) deleted in the catch-up, \(format(took)))"
        if onlyOnTarget > 0 {
            line += "; also deleted \(keys(onlyOnTarget)) that only the target had, to make it a mirror"
        }
        return line
    }

    // MARK: Helpers

    /// A global namespace would apply to one store only, and which one is anyone's guess: the
    /// namespaces go in the --from and --to URLs. A config file's `namespace` is a default for
    /// one-store commands, and migrate leaves it alone.
    static func refuseNamespace(_ configuration: CoordConfiguration) throws {
        guard let namespace = configuration.refinements[.namespace] else { return }
        let why = "does not apply to coord migrate, which reads one store and writes another: "
            + "put the namespaces in the --from and --to URLs, such as --from etcd://host:2379/app --to zookeeper://host:2181/app"
        switch namespace.source {
        // A flag that does not fit the command is a usage error; a setting from the environment
        // is a bad global setting (7), as the Exit status section of the README has it.
        case .flag(let flag): throw CommandLineProblem("\(flag) \(namespace.value) \(why)")
        case .environment(let variable):
            throw CoordinationError(.invalidConfiguration, "\(variable)=\(namespace.value) (from the environment) \(why)")
        case .file, .builtIn: return
        }
    }

    /// `--from` and `--to` parsed, each with the global settings applied where they fit its
    /// scheme and the URL does not give them itself (``CoordConfiguration/refine(stores:)``).
    static func storeURLs(from: String, to: String, configuration: CoordConfiguration) async throws -> (source: StoreURL, target: StoreURL) {
        let stores = [("--from", try parse(from, flag: "--from")), ("--to", try parse(to, flag: "--to"))]
        var configuration = configuration
        await configuration.readPasswordFileIfUsed(stores: stores)
        let refined = try configuration.refine(stores: stores)
        for note in refined.notes { StandardStreams.writeError("coord: note: " + CoordCommandLine.oneLine(note)) }
        return (refined.urls[0], refined.urls[1])
    }

    static func parse(_ text: String, flag: String) throws(CoordinationError) -> StoreURL {
        let url: StoreURL
        do {
            url = try StoreURL(text)
        } catch {
            var error = error
            error.message += " (from \(flag))"
            throw error
        }
        if let refusal = CommandContext.registry.schemeRefusal(url, in: "\(flag) \(url)") { throw refusal }
        return url
    }

    /// `true` when both URLs name one store (same scheme family and a shared host, or the same
    /// in-process memory store) and the copied subtrees overlap. Host aliases (localhost and
    /// 127.0.0.1) are not resolved here: ``wouldOverlap(_:_:prefix:)`` and
    /// ``StoreMigration/targetIsSource()`` catch them once both stores are open.
    static func overlaps(_ a: StoreURL, _ b: StoreURL, prefix: Key) -> Bool {
        guard wouldOverlap(a, b, prefix: prefix) else { return false }
        return a.scheme == "memory" ? (a.hosts.first ?? "") == (b.hosts.first ?? "") : !Set(a.hosts).isDisjoint(with: b.hosts)
    }

    /// Whether no key lives beneath the handle's root. A walk's first record, not `children`:
    /// etcd keys another client wrote without their parents (`/ns/config/color` alone) name no
    /// child. Only asked of a namespace that did not exist, so the walk is short unless another
    /// tool's keys are there, which the migration reads next anyway.
    static func holdsNothing(_ store: any CoordinationStore) async throws -> Bool {
        var records = store.walk(.root).makeAsyncIterator()
        return try await records.next() == nil
    }

    /// `true` when both URLs are of one scheme family (so could be one store, whatever their
    /// hosts say) and the copied subtrees would overlap were they one store.
    static func wouldOverlap(_ a: StoreURL, _ b: StoreURL, prefix: Key) -> Bool {
        func family(_ scheme: String) -> String { scheme == "etcds" ? "etcd" : scheme }
        guard family(a.scheme) == family(b.scheme) else { return false }
        let rootA = a.namespace.appending(prefix)
        let rootB = b.namespace.appending(prefix)
        return rootA.isUnder(rootB) || rootB.isUnder(rootA)
    }

    /// etcd reads a subtree in one range request; ZooKeeper's walk goes key by key, so it is read
    /// level by level with many requests in flight instead.
    static func readMode(for url: StoreURL, width: Int) -> MigrationOptions.ReadMode {
        url.scheme == "zookeeper" ? .parallel(width: width) : .walk
    }

    static func open(_ url: StoreURL, role: String, logger: Logger) async throws -> any CoordinationStore {
        do {
            return try await CommandContext.registry.open(url, logger: logger)
        } catch let error as CoordinationError {
            throw openFailure(error, url: url, role: role)
        }
    }

    /// `error`, met opening the `role` store at `url`, saying so.
    static func openFailure(_ error: CoordinationError, url: StoreURL, role: String) -> CoordinationError {
        var error = error
        error.message = "cannot open the \(role) store \(url): \(error.message)"
        return error
    }

    /// The summary's line about source keys held by ephemeral keys on the target.
    static func heldLine(_ counts: MigrationCounts, dryRun: Bool) -> String {
        "\(dryRun ? "would not copy" : "not copied"): \(keys(counts.heldByEphemeral)), held by ephemeral keys of live sessions "
            + "on the target (at the key or above it; never overwritten): " + listed(counts.heldByEphemeralKeys, of: counts.heldByEphemeral)
    }

    /// The failure (status 1) when keys were held by ephemeral keys on the target.
    static func heldProblem(_ counts: MigrationCounts, dryRun: Bool) -> String {
        "\(keys(counts.heldByEphemeral)) \(dryRun ? "would not be" : "were not") copied: the target holds ephemeral keys of "
            + "live sessions at or above them (\(listed(counts.heldByEphemeralKeys, of: counts.heldByEphemeral))); "
            + "run again once those sessions have ended"
    }

    /// The failure when source keys cannot be copied at all (status 6: the code of the first,
    /// `valueTooLarge` or `invalidKey`); the summary lists them.
    static func skippedProblem(_ counts: MigrationCounts, dryRun: Bool) -> CoordinationError {
        CoordinationError(
            counts.skippedKeys.first?.code ?? .invalidKey,
            "\(keys(counts.skipped)) on the source \(dryRun ? "would not be" : "were not") copied: the target cannot hold them "
                + "(listed on stdout); running again cannot copy them: change or remove them on the source")
    }

    /// What stderr says when, while following, a source key becomes one the target cannot hold.
    static func notMirroredNote(_ key: MigrationCounts.SkippedKey) -> String {
        "not mirrored: \(key.reason); the target keeps what it had at \(key.path), so it is no faithful copy "
            + "until the key fits again or is deleted on the source: change or remove it there"
    }

    /// The source keys that the target cannot hold, each with why.
    static func skippedLines(_ counts: MigrationCounts, dryRun: Bool) -> String {
        var text = "\(dryRun ? "would not copy" : "not copied"): \(keys(counts.skipped)) that the target cannot hold"
        for key in counts.skippedKeys { text += "\n  \(key.path): \(key.reason)" }
        if counts.skipped > counts.skippedKeys.count { text += "\n  … and \(counts.skipped - counts.skippedKeys.count) more" }
        return text
    }

    private static func listed(_ keys: [Key], of count: Int) -> String {
        keys.map(\.path).joined(separator: ", ") + (count > keys.count ? ", …" : "")
    }

    /// "1 key", "2 keys".
    static func keys(_ count: Int) -> String { plural(count, "key") }

    /// `count` and `noun`, with an s unless it is one.
    static func plural(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }

    static func summary(_ counts: MigrationCounts, elapsed: Duration, rate: Double, dryRun: Bool) -> String {
        var text = dryRun ? "dry run: would copy \(keys(counts.copied))" : "copied \(keys(counts.copied))"
        // A dry run always says it: how much of the target it would change is what one looks for.
        if dryRun || counts.overwritten > 0 {
            text += " (\(counts.overwritten) \(dryRun ? "overwriting" : "of them overwriting") a different value on the target)"
        }
        text += ", skipped \(counts.identical) identical and \(counts.ephemeral) ephemeral"
        if counts.deleted > 0 { text += ", \(dryRun ? "would delete" : "deleted") \(counts.deleted)" }
        text += " (\(plural(counts.sourceKeys, "persistent key")) on the source) in \(format(elapsed)): \(Int(rate.rounded())) keys/s"
        if counts.overwritten > 0 {
            text += "\n\(dryRun ? "would overwrite" : "overwrote"): " + listed(counts.overwrittenKeys, of: counts.overwritten)
        }
        if counts.skipped > 0 { text += "\n" + skippedLines(counts, dryRun: dryRun) }
        text += "\nsequence counters: \(plural(counts.countersChecked, "parent"))"
        text += dryRun ? " to check" : " checked, \(counts.countersAdvanced) moved forward"
        if counts.countersLeftBehind > 0 {
            text += ", \(counts.countersLeftBehind) left behind: "
                + counts.countersLeftBehindUnder.map { "\($0.parent) (\(numbered($0)))" }.joined(separator: ", ")
                + (counts.countersLeftBehind > counts.countersLeftBehindUnder.count ? ", …" : "")
        }
        return text
    }

    /// The copied names a counter stays behind, by their numbers.
    static func numbered(_ behind: MigrationCounts.CounterLeftBehind) -> String {
        behind.lowest == behind.highest ? "a name numbered \(behind.lowest)" : "names numbered \(behind.lowest) to \(behind.highest)"
    }

    /// Why some sequence counters were not moved past the copied names, and what it means.
    static func countersLeftBehindNote(_ counts: MigrationCounts) -> String {
        "\(plural(counts.countersLeftBehind, "sequence counter")) on the target left behind the numbers of some copied names "
            + "(listed on stdout; lower numbers under the same parent were passed): the target moves a counter one sequential create at a time and "
            + "these are over \(StoreMigration.maxProbedGap) numbers ahead of it (or no number follows 9999999999); names such as login-1700000000 only "
            + "look sequential, but if these are, new sequential keys there will sort before them"
    }

    static func format(_ duration: Duration) -> String {
        let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return ms < 1000 ? "\(Int(ms.rounded()))ms" : String(format: "%.2fs", ms / 1000)
    }
}

/// What a copy has done so far, from its progress reports: what an interruption reports.
final class MigrationTracker: Sendable {
    private struct State {
        var counts = MigrationCounts()
        var copyFinished = false
        var verifying = false
        var finished = false
        /// What stops `--follow`'s mirroring, while it runs.
        var stopFollowing: (@Sendable () -> Void)?
        /// `--follow`'s mirroring has ended: the catch-up, if any, is what a signal interrupts.
        var followed = false
    }
    private let state = Mutex(State())
    private let dryRun: Bool

    init(dryRun: Bool) {
        self.dryRun = dryRun
    }

    /// Takes a progress report of the copy.
    func note(_ progress: MigrationProgress) {
        state.withLock { state in
            if !state.copyFinished { state.counts = progress.counts }
        }
    }

    /// The copy ended with these counts.
    func copied(_ counts: MigrationCounts) {
        state.withLock {
            $0.counts = counts
            $0.copyFinished = true
        }
    }

    func verifying() { state.withLock { $0.verifying = true } }

    /// `--follow` mirrors until `stop` is called: the first signal does that, not stop the run.
    func following(stop: @escaping @Sendable () -> Void) { state.withLock { $0.stopFollowing = stop } }

    /// The mirroring ended (stopped, or failed): a signal from now on stops the run.
    func followingEnded() {
        state.withLock {
            $0.stopFollowing = nil
            $0.followed = true
        }
    }

    /// Stops `--follow`'s mirroring if it runs; `false` when there is none to stop (the signal
    /// stops the run instead).
    func stopFollowing() -> Bool {
        guard let stop = state.withLock({ state in
            defer { state.stopFollowing = nil }
            return state.stopFollowing
        }) else { return false }
        stop()
        return true
    }

    /// The run has printed its outcome; what remains (closing the stores) changes nothing.
    func finished() { state.withLock { $0.finished = true } }

    var isFinished: Bool { state.withLock { $0.finished } }

    var counts: MigrationCounts { state.withLock { $0.counts } }

    /// The line printed when `signal` stopped the run.
    func interruption(by signal: String) -> String {
        state.withLock { state in
            let counts = state.counts
            if dryRun {
                return "interrupted by \(signal): a dry run writes nothing"
            }
            if state.verifying {
                return "interrupted by \(signal) while verifying, after the copy finished (\(MigrateCommand.keys(counts.copied)) copied); "
                    + "run with --verify --dry-run to compare again"
            }
            let when = state.followed ? " while catching up after --follow" : ""
            return "interrupted by \(signal)\(when): \(MigrateCommand.keys(counts.copied)) copied and \(counts.identical) found identical so far "
                + "(of \(MigrateCommand.plural(counts.sourceKeys, "persistent key")) read from the source); run the same command again to finish: it resumes"
        }
    }
}

/// A failure of `coord migrate` that is not a store error (status 1).
struct MigrationProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
