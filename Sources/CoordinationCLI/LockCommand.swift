import ArgumentParser
import Coordination
import CoordinationRecipes

struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Run a command while holding a distributed lock.",
        discussion: """
            Waits for the lock NAME (a plain name is the key /locks/NAME; an absolute key is used \
            as it is), runs COMMAND while holding it, releases it when COMMAND exits, and exits \
            with COMMAND's status. Waiters are served in arrival order; a release wakes only the \
            next one.

            If the lock may be lost while COMMAND runs, COMMAND is stopped before anyone else can \
            hold it (contact lost: SIGTERM a fifth of the session TTL before the session may \
            expire, SIGKILL half that later, at most 5 s; session expired: at once) and coord \
            exits with status 11. If coord itself is killed or frozen, a watchdog beside COMMAND \
            kills it, and what it started, before the session can expire. COMMAND gets the lock's fencing token in \
            COORD_FENCING_TOKEN: a number that is larger for every later holder, for storage that \
            can refuse writes from an older holder. Whatever COMMAND started that still runs when \
            it exits or is stopped (in the background, after a setsid or a double fork) is stopped \
            the same way before the lock is released: it would work on unprotected. Start what \
            must outlive the lock outside coord lock.

            A SIGINT, SIGTERM or SIGHUP to coord is passed on to COMMAND (one ignored when coord \
            started, as under nohup, stays ignored, for COMMAND too; killed with SIGKILL if still \
            running 5 s later), and coord still exits with COMMAND's status; while it waits for \
            the lock, one ends the wait with 128 + the signal's number (130, 143, 129). With --timeout, \
            a lock still busy at the limit gives status 12 and COMMAND does not run; the limit \
            counts only the wait for other holders, so a free lock is taken even with --timeout 0.

              coord --store zookeeper://127.0.0.1:2181 lock deploy -- \\
                  ./deploy.sh production
              coord lock /myapp/locks/migrate --timeout 30s -- make migrate
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    // Unconditional: `--timeout -1` took -1 for an option, and the hint to write --timeout=-1
    // only led to a second refusal; now the value itself is refused, naming the range.
    @Option(
        parsing: .unconditional,
        help: "Give up after waiting this long for the holders ahead (e.g. 30s; 0: only a free lock) with status 12, instead of waiting forever.")
    var timeout: String?
    @Argument(help: "The lock's name or key.") var name: String
    @Argument(parsing: .postTerminator, help: "The command to run, after --.") var command: [String] = []

    func run() async throws {
        // The command line's own values first: a bad --timeout or no command is a usage error, whatever the settings.
        try HeldCommand.requireCommand(command)
        let limit = try Self.limit(timeout)
        let key = try HeldCommand.key(name, under: "/locks", kind: "a lock")
        let context = try await CommandContext.make(global)
        context.noteIfHeldInMemory("the lock keeps no other process out")
        let silence = StoreSilence()
        let status = try await context.withStore(closing: silence) { store in
            try await HeldCommand.removingIfUnused(key, in: store, noting: silence) {
                try await HeldCommand.run(command, holding: "lock \(key)", in: store) { runChild in
                    let lock = Lock(store: store, path: key, logger: context.logger)
                    // Acquired here rather than by withLock(timeout:), so that giving up is coord's
                    // own line and status (12), the command not started.
                    guard let lease = try await Self.acquire(lock, timeout: limit, noting: silence) else {
                        throw RecipeError.notAcquired(
                            "lock \(key) was not acquired within \(DurationText.format(limit ?? .zero)); the command did not run")
                    }
                    return try await HeldCommand.holding(lease, in: store, at: key) {
                        try await runChild(["COORD_FENCING_TOKEN": String(lease.token)])
                    }
                }
            }
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// The wait `--timeout` allows: `nil` without one, zero for a try (the lock if it is free now,
    /// else 12). A negative one is refused naming the range, a usage error.
    static func limit(_ text: String?) throws -> Duration? {
        guard let text else { return nil }
        if DurationText.parse(text) == .zero { return .zero }
        if DurationText.isNegativeNumber(text) {
            throw CommandLineProblem("--timeout \(text) is negative: give 0 (only a free lock) or a longer wait for the holders ahead, like 30s")
        }
        return try OptionValue.duration(text, option: "--timeout")
    }

    /// How long past --timeout coord waits for a store that does not answer, its tidy-up's
    /// allowance (``StoreSilence/tidyUp``): far more than the round trips of taking a free lock,
    /// far less than a request's own time-out (10 s on etcd). One allowance in all: a store
    /// silent while coord waited for the holders ahead costs it to the entry's removal (then
    /// nothing more is waited for), one silent before coord waited costs it here.
    static let storeAllowance = TidyUpAllowance.defaultLimit

    /// `lock.acquire(timeout:)`, given up with status 12 once the store has not answered
    /// ``storeAllowance`` past `timeout`: --timeout counts only the wait for the holders ahead,
    /// but a server gone silent before coord queued, or before it looked at the queue, held a
    /// request until its own time-out (exit 9 after 10 s on etcd with --timeout 3s). The lock
    /// was not acquired within what the user allowed, which is what 12 says; the message says
    /// why. An entry the abandoned attempt may have made ends with the session, which coord closes.
    /// An attempt that has begun tidying up by then (it gave up at `timeout`, or failed) is waited
    /// for: its tidy-up waits for a store that answers, however slowly, and stops within what is
    /// left of the allowance once one does not.
    /// - Parameter silence: told when the store did not answer: nothing more is asked of it. Its
    ///   allowance (``StoreSilence/tidyUp``) is the one the lock's entry's removal waits within
    ///   when it gives up at `timeout`, so that the tidy-up after it knows a store found silent.
    static func acquire(_ lock: Lock, timeout: Duration?, noting silence: StoreSilence? = nil) async throws -> LockLease? {
        guard let timeout else { return try await lock.acquire() }
        let tidyUp = silence?.tidyUp ?? TidyUpAllowance(limit: storeAllowance)
        let attempt = Task { try await lock.acquire(timeout: timeout, tidyingUp: tidyUp) }
        let outcome: Result<LockLease?, any Error>? = await withTaskCancellationHandler {
            if let outcome = await FirstAnswer.within(timeout + storeAllowance, { await attempt.result }) { return outcome }
            // Tidying up: it returns within the allowance, or while the store answers.
            guard tidyUp.hasBegun else { return nil }
            return await attempt.result
        } onCancel: {
            attempt.cancel()
        }
        if let outcome { return try outcome.get() }
        attempt.cancel()
        silence?.note()
        throw RecipeError.notAcquired(
            "lock \(lock.path) was not acquired within \(DurationText.format(timeout)): the store did not answer for "
                + "\(DurationText.format(storeAllowance)) more (is it overloaded or out of reach?); the command did not run")
    }
}
