import ArgumentParser
import Coordination
import CoordinationScheduler
import Foundation

/// The flags of `coord job add` that define a job, turned into a validated ``JobSpec`` before any I/O.
struct JobOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Run this shell command (the built-in shell handler).", valueName: "cmd")) var command: String?
    @Option(help: ArgumentHelp("Run this handler, registered in a worker's code.", valueName: "name")) var handler: String?
    @Option(help: ArgumentHelp(
            "Fire on a cron expression, UTC unless it starts CRON_TZ=ZONE: sec min hour day month weekday, the classic 5 fields without sec, or @daily etc.",
            valueName: "expr"))
    var cron: String?
    // Unconditional: a negative number is taken as the value (and refused by name, or for
    // --priority kept), not as an unknown option.
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Fire every DURATION: a number and a unit, ms, s, m, h or d (30s, 90m); first one interval from now.", valueName: "duration"))
    var every: String?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Fire once at TIME: ISO 8601 with Z or an offset (2026-01-31T12:00:00Z) or +DURATION (+30s).", valueName: "time"))
    var at: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Split each fire time into N items (1…\(JobSpec.maxShards)).", valueName: "n"))
    var shards: Int?
    @Option(
        help: ArgumentHelp(
            "Per-item parameters, comma-separated (COORD_SHARD_PARAM); without --shards, one item each.", valueName: "a,b,c"))
    var shardParams: String?
    @Option(
        help: ArgumentHelp(
            "Placement: compete, round-robin, random, least-loaded, weighted, consistent-hash, broadcast.", valueName: "s"))
    var strategy: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Retries after a failed or timed-out attempt (default 0, at most \(RetryPolicy.mostRetries)).", valueName: "n")) var retries: Int?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Back-off before the first retry, doubling after up to 1m, or up to itself when longer (default 1s; a duration such as 500ms, 30s).",
            valueName: "d"))
    var backoff: String?
    @Option(
        parsing: .unconditional, help: ArgumentHelp("Stop an attempt after this long (30s, 5m, 2h) and record it as timed out.", valueName: "d"))
    var timeout: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Higher runs first (may be negative).", valueName: "n")) var priority: Int?
    @Option(help: ArgumentHelp("Labels a worker must have, k=v,… (each key once).", valueName: "k=v,…")) var labels: String?
    @Option(
        help: ArgumentHelp("Missed fire times of a --cron or --every job: fire-once-now or skip.", valueName: "policy"))
    var misfire: String?
    @Option(help: ArgumentHelp(
            "A fire time while a run is active: skip, queue (the default: runs one after another; a job whose runs outlast "
                + "its interval piles up pending runs, give it skip) or replace.", valueName: "policy"))
    var overlap: String?
    @Option(help: ArgumentHelp("The payload handed to the handler (text).", valueName: "text")) var payload: String?

    /// `true` when any flag defining a job was given (they conflict with --file).
    var anyGiven: Bool {
        [command, handler, cron, every, at, shardParams, strategy, backoff, timeout, labels, misfire, overlap, payload]
            .contains { $0 != nil } || shards != nil || retries != nil || priority != nil
    }

    /// The job the flags define. Every mistake is a usage error (status 64) naming the flag: the
    /// checks a jobs file shares (where they give status 7) are converted by ``CommandLineProblem/checking(_:_:)``.
    func spec(id: String, now: Date) throws -> JobSpec {
        let handlerName: String
        var payloadBytes = Data((payload ?? "").utf8)
        switch (command, handler) {
        case (let command?, nil):
            if let problem = Self.commandProblem(command) { throw CommandLineProblem("--command \(problem)") }
            handlerName = ShellJobHandler.name
            if payload != nil { throw CommandLineProblem("--payload cannot go with --command: the command is the payload") }
            payloadBytes = Data(command.utf8)
        case (nil, let handler?): handlerName = handler
        case (nil, nil): throw CommandLineProblem("give --command CMD or --handler NAME")
        case (_?, _?): throw CommandLineProblem("give --command or --handler, not both")
        }
        let schedules = [cron, every, at].compactMap { $0 }
        guard schedules.count <= 1 else { throw CommandLineProblem("give at most one of --cron, --every and --at") }
        if let shards, !(1...JobSpec.maxShards).contains(shards) {
            throw CommandLineProblem("--shards must be between 1 and \(JobSpec.maxShards), got \(shards)")
        }
        if let retries, retries < 0 { throw CommandLineProblem("--retries must be 0 or more, got \(retries)") }
        if let retries, let problem = RetryPolicy.tooManyRetries(retries) { throw CommandLineProblem("--retries \(problem)") }
        let misfirePolicy = try CommandLineProblem.checking("--misfire") { () throws(CoordinationError) in
            try misfire.map(JobValueSpellings.misfire) ?? .fireOnceNow
        }
        // Whatever its word: for a one-shot job it would do nothing.
        if misfire != nil && cron == nil && every == nil {
            throw CommandLineProblem(
                "--misfire applies to --cron and --every jobs only: a one-shot job's run is created when it is added, "
                    + "and runs however late a worker takes it; leave --misfire out")
        }
        var schedule = JobSchedule.once(at: nil)
        if let cron {
            // Some crons take `@every 5m` (Go's robfig/cron); here that is a flag of its own.
            let words = cron.split(separator: " ", omittingEmptySubsequences: true)
            if words.count == 2, words[0].lowercased() == "@every" {
                throw CommandLineProblem("--cron '\(cron)': a fixed interval is not a cron expression here; write --every \(words[1])")
            }
            schedule = .cron(try CommandLineProblem.checking("--cron") { () throws(CoordinationError) in try CronExpression(cron) })
        }
        if let interval = try OptionValue.duration(every, option: "--every") {
            guard interval >= JobSpec.shortestInterval else {
                throw CommandLineProblem("--every \(every ?? "") is too short; the shortest interval is \(DurationText.format(JobSpec.shortestInterval))")
            }
            schedule = .every(interval, start: nil)
        }
        if let at { schedule = .once(at: JobTime.wholeMilliseconds(try Self.time(at, now: now))) }
        var retry = RetryPolicy(maxRetries: retries ?? 0)
        if let base = try OptionValue.duration(backoff, option: "--backoff") {
            retry.backoffBase = base
            retry.backoffCap = max(retry.backoffCap, base)
        }
        let parameters = shardParams.map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) } ?? []
        // `a,b,` or `a,,b` made an item with an empty parameter, run like the others: a typo, as a rule.
        if shardParams?.isEmpty == true {
            throw CommandLineProblem("--shard-params is empty; give the parameters, comma-separated (small,medium,large), or leave it out")
        }
        if let shardParams, let empty = parameters.firstIndex(of: "") {
            throw CommandLineProblem(
                "--shard-params '\(shardParams)' has an empty parameter (item \(empty) of \(parameters.count), counted from 0): "
                    + "remove the extra comma (a jobs file's \"shardParameters\" can hold an empty one if it is meant)")
        }
        if let shards, parameters.count > shards {
            throw CommandLineProblem(
                "--shard-params gives \(parameters.count) parameters for --shards \(shards): give at most one per shard, "
                    + "or leave --shards out for one shard per parameter")
        }
        // The job's own check says "a broadcast job cannot also be sharded", naming no flag.
        if strategy.map(JobValueSpellings.camelCase) == PlacementStrategy.broadcast.rawValue, (shards ?? parameters.count) > 1 {
            throw CommandLineProblem(
                "--strategy broadcast runs each fire time once on every worker, so it cannot be split into items: "
                    + "leave out --shards and --shard-params, or give another strategy")
        }
        let spec = JobSpec(
            id: id, handler: handlerName, payload: payloadBytes, schedule: schedule,
            // One item per parameter unless told otherwise: the parameters name the items.
            shards: shards ?? max(1, parameters.count), shardParameters: parameters,
            priority: priority ?? 0, requiredLabels: try Self.labels(labels, option: "--labels"),
            placement: try CommandLineProblem.checking("--strategy") { () throws(CoordinationError) in
                try strategy.map(JobValueSpellings.strategy) ?? .compete
            },
            timeout: try Self.timeout(timeout),
            retry: retry,
            misfire: misfirePolicy,
            overlap: try CommandLineProblem.checking("--overlap") { () throws(CoordinationError) in
                try overlap.map(JobValueSpellings.overlap) ?? .queue
            })
        // What is left (an every under 10ms, a cron expression that never fires, a sharded
        // broadcast job, a bad or too long id, a payload too large) is named by the job's check.
        try CommandLineProblem.checking { () throws(CoordinationError) in try spec.validate(now: now) }
        return spec
    }

    /// `--timeout`, the longest an attempt may run. Zero or less is refused naming the range and
    /// that leaving it out means no limit: "is negative; write one number and one unit" said neither.
    static func timeout(_ text: String?) throws -> Duration? {
        guard let text else { return nil }
        let wanted = "give how long an attempt may run before it is stopped, more than 0, like 30s, 5m or 2h; "
            + "leave --timeout out for no limit"
        if DurationText.isNegativeNumber(text) { throw CommandLineProblem("--timeout \(text) is negative: \(wanted)") }
        if DurationText.parse(text) == .zero { throw CommandLineProblem("--timeout \(text) is not positive: \(wanted)") }
        return try OptionValue.duration(text, option: "--timeout")
    }

    /// The longest shell command, in bytes: Linux refuses a longer single argument to a program
    /// (`MAX_ARG_STRLEN`, 128 KiB with its terminating NUL), and the command is one, to `/bin/sh -c`:
    /// every attempt would fail with "Argument list too long".
    static let maxCommandBytes = 128 * 1024 - 1

    /// Why `command` cannot be a shell job's command (after the option or field that gave it); `nil` when it can.
    static func commandProblem(_ command: String) -> String? {
        // An empty command would run, succeed and do nothing, every time.
        if command.allSatisfy(\.isWhitespace) { return "is empty; give the shell command to run, e.g. 'make backup'" }
        let bytes = command.utf8.count
        if bytes > maxCommandBytes {
            return "is \(bytes) bytes long; the limit is \(maxCommandBytes) bytes (the longest argument Linux passes to "
                + "/bin/sh): put the commands in a script and run that"
        }
        return nil
    }

    /// ISO 8601 (with or without fractional seconds, checked field by field) or `+DURATION` from now.
    static func time(_ text: String, now: Date) throws -> Date {
        let forms = "write it like \(JobTime.example) (UTC), 2026-01-31T13:00:00+01:00, or +30s from now"
        // The message below would quote nothing: "--at +:  is not a duration".
        if text == "+" { throw CommandLineProblem("--at +: give a duration after the '+', such as +30s or +10m") }
        if text.hasPrefix("+") {
            switch DurationText.positive(String(text.dropFirst())) {
            case .success(let offset):
                return now.addingTimeInterval(Double(offset.components.seconds) + Double(offset.components.attoseconds) / 1e18)
            case .failure(let problem):
                throw CommandLineProblem("--at \(text): \(text.dropFirst()) \(problem.description)")
            }
        }
        // A duration (`5m`) was meant from now, and wants its '+'; a negative one (`-5m`) is before now.
        if DurationText.isNegativeNumber(text), DurationText.parse(String(text.dropFirst())) != nil {
            throw CommandLineProblem("--at \(text) is a duration before now; a run is set for a time to come: \(forms)")
        }
        if DurationText.parse(text) != nil {
            throw CommandLineProblem("--at \(text) is a duration, not a time: write +\(text) for \(text) from now; or \(forms)")
        }
        do {
            return try JobTime.parse(text)
        } catch {
            throw CommandLineProblem("--at \(text) is not a time: \(error.description); \(forms)")
        }
    }

    /// `k=v,k2=v2`, given to `option` (a usage error when malformed, or when a key comes twice:
    /// only one value could be kept).
    static func labels(_ text: String?, option: String) throws -> [String: String] {
        guard let text, !text.isEmpty else { return [:] }
        do {
            // Empty pairs kept: 'zone=eu,' is a stray comma (or a pair left out), refused as
            // --shard-params refuses one, not passed over.
            return try LabelPairs.labels(text.split(separator: ",", omittingEmptySubsequences: false))
        } catch {
            switch error {
            case .malformed(let pair, let why):
                throw CommandLineProblem("\(option): '\(pair)' \(why); write key=value pairs, comma-separated (zone=eu,disk=ssd)")
            case .repeated(let key, let first, let second):
                throw CommandLineProblem("\(option): '\(key)' is given twice (\(first) and \(second)); a label has one value: give it once")
            case .spaced(let pair, let written):
                // `zone=a, disk=ssd` made the label " disk": a job requiring it waited for a worker
                // that nobody would start, and a worker given it matched no job.
                throw CommandLineProblem(
                    "\(option): '\(pair)' has a space around its key or value, which would be part of the label; "
                        + "write key=value pairs without spaces, comma-separated ('\(written)')")
            }
        }
    }
}

extension JobOptions {
    /// The usage error for `coord job add -dash …`, where argument-parser read the id as short
    /// options: as `-d -a -s -h`, and so printed the help and exited 0 having added nothing, or
    /// as an unknown option. `nil` unless `arguments` (without the program name) do not parse as
    /// a `job add` as they are (help is no `job add`) and do with a dash-led word in them read as the id.
    static func optionLikeIDProblem(in arguments: [String]) -> String? {
        // `job add` may follow global options (`--store URL job add -dash`).
        guard let job = arguments.indices.dropLast().first(where: { arguments[$0] == "job" && arguments[$0 + 1] == "add" }),
            arguments.contains(where: { $0.hasPrefix("-") && !$0.hasPrefix("--") && $0.count > 1 }),
            (try? Coord.parseAsRoot(arguments)) as? JobAdd == nil
        else { return nil }
        let placeholder = "coord-option-like-id"
        for index in arguments.indices.dropFirst(job + 2) {
            let word = arguments[index]
            if word == "--" { break }
            guard word.hasPrefix("-"), !word.hasPrefix("--"), word.count > 1, !["-h", "-help"].contains(word) else { continue }
            var replaced = arguments
            replaced[index] = placeholder
            guard let add = try? Coord.parseAsRoot(replaced) as? JobAdd, add.id == placeholder else { continue }
            return "\(word) was read as options, not as the job's id: a job id cannot start with '-'; "
                + "give one that starts with a letter or a digit"
        }
        return nil
    }
}
