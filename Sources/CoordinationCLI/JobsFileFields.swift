import Coordination
import CoordinationScheduler
import Foundation

/// The fields a jobs file may give, and the refusal of any other: a misspelt or CLI-spelt field
/// (`"retries": 3`, `"strategy": "random"`) would otherwise be ignored and the job run with the
/// default. Stored jobs are read leniently instead (a later coord may add fields); only files
/// that people write are held to this.
enum JobsFileFields {
    /// The fields of a job: the scheduler's, and the file's own: `command`, `payloadText` (the
    /// payload as text, as `--payload` takes it) and `comment` (for people; ignored).
    static var job: [String] { ["id", "command"] + JobSpec.jsonFields.filter { $0 != "id" } + ["payloadText", "comment"] }

    /// What to write instead of a field as `coord job add` spells its flag, by the flag's camel case.
    static let jobHints: [String: String] = [
        "strategy": #"use "placement", e.g. "placement": "round-robin""#,
        "retries": #"use "retry": {"maxRetries": N}"#,
        "backoff": #"use "retry": {"backoffBaseMs": MILLISECONDS}"#,
        "timeout": #"use "timeoutMs", in milliseconds"#,
        "cron": #"use "schedule": {"kind": "cron", "cron": "0 0 3 * * *"}"#,
        "every": #"use "schedule": {"kind": "every", "everyMs": MILLISECONDS}"#,
        "at": #"use "schedule": {"kind": "once", "at": "2026-01-31T12:00:00Z"}"#,
        "labels": #"use "requiredLabels": {"zone": "a"}"#,
        "shardParams": #"use "shardParameters": ["a", "b"]"#,
    ]

    static let scheduleHints: [String: String] = [
        "every": #"use "everyMs", in milliseconds"#, "interval": #"use "everyMs", in milliseconds"#,
        "expression": #"use "cron""#,
    ]

    static let retryHints: [String: String] = [
        "retries": #"use "maxRetries""#, "backoff": #"use "backoffBaseMs", in milliseconds"#,
        "backoffBase": #"use "backoffBaseMs", in milliseconds"#, "backoffCap": #"use "backoffCapMs", in milliseconds"#,
    ]

    /// Throws when `object` (a job) or its `schedule` or `retry` object has a field not in the
    /// format, naming each such field, what to write instead when that is known, and the known fields.
    static func check(_ object: [String: Any], job name: String) throws(CoordinationError) {
        try check(object, known: job, hints: jobHints, within: nil, job: name)
        if let schedule = object["schedule"] as? [String: Any] {
            try check(schedule, known: JobSchedule.jsonFields, hints: scheduleHints, within: "schedule", job: name)
        }
        if let retry = object["retry"] as? [String: Any] {
            try check(retry, known: RetryPolicy.jsonFields, hints: retryHints, within: "retry", job: name)
        }
    }

    private static func check(
        _ object: [String: Any], known: [String], hints: [String: String], within parent: String?, job name: String
    ) throws(CoordinationError) {
        let unknown = object.keys.filter { !known.contains($0) }.sorted()
        guard !unknown.isEmpty else { return }
        let named = unknown.map { field in
            let hint = hints[JobValueSpellings.camelCase(field)] ?? Spelling.nearest(to: field, among: known).map { "did you mean \"\($0)\"?" }
            return "\"\(field)\"" + (hint.map { " (\($0))" } ?? "")
        }
        let fields = unknown.count == 1 ? "field" : "fields"
        let problem =
            parent.map { "\"\($0)\" has the unknown \(fields) " } ?? "unknown \(fields) "
        throw CoordinationError(
            .invalidConfiguration,
            "\(name): \(problem)\(named.joined(separator: ", ")); the known fields\(parent.map { " of \"\($0)\"" } ?? "") are "
                + known.joined(separator: ", "))
    }
}

/// The values a jobs file's fields take, checked before the scheduler's decoder sees them so that
/// every mistake names the field, the form it takes and an example (the decoder's own words are
/// Swift's: "Expected to decode Double but found a string instead"). On the way the file's
/// conveniences become the stored form: a time as ISO 8601 becomes epoch milliseconds,
/// `payloadText` a base64 `payload`, `1e3` the integer 1000; `comment` is dropped.
enum JobsFileValues {
    static func normalise(_ object: inout [String: Any], job name: String) throws(CoordinationError) {
        func problem(_ text: String) -> CoordinationError { CoordinationError(.invalidConfiguration, "\(name): \(text)") }
        guard object["id"] != nil else { throw problem(#""id" is missing; give the job's id, e.g. "id": "nightly""#) }
        try string(&object, "id", example: #""nightly""#, job: name)
        try string(&object, "handler", example: #""mail""#, job: name)
        try string(&object, "command", example: #""make backup""#, job: name)
        try string(&object, "comment", example: #""runs the backup""#, job: name)
        object["comment"] = nil
        try string(&object, "payloadText", example: #""hello""#, job: name)
        // As --payload with --command: the payload would be dropped without a word.
        if object["command"] != nil, let field = ["payload", "payloadText"].first(where: { object[$0] != nil }) {
            throw problem("\"\(field)\" cannot go with \"command\": the command is the payload")
        }
        if let text = object.removeValue(forKey: "payloadText") as? String {
            if object["payload"] != nil { throw problem(#"give "payload" (base64) or "payloadText" (text), not both"#) }
            object["payload"] = Data(text.utf8).base64EncodedString()
        } else if let payload = object["payload"] {
            let form = #""payload" must be base64 (the bytes handed to the handler), e.g. "payload": "aGVsbG8=" for hello; for text write "payloadText": "hello""#
            guard let text = payload as? String else { throw problem(form + "; got \(shown(payload))") }
            guard Data(base64Encoded: text) != nil else { throw problem(form + "; got \(shown(payload)), which is not base64") }
        }
        try wholeNumber(&object, "shards", example: "4", least: 1, most: Int64(JobSpec.maxShards), job: name)
        try wholeNumber(&object, "priority", example: "5", job: name)
        try wholeNumber(&object, "timeoutMs", example: "30000 (30 seconds)", least: 1, job: name)
        try strings(&object, "shardParameters", job: name)
        // One item per parameter unless told otherwise, as --shard-params without --shards.
        if object["shards"] == nil, let parameters = object["shardParameters"] as? [String], parameters.count > 1 {
            object["shards"] = parameters.count
        }
        if let labels = object["requiredLabels"] {
            let form = #""requiredLabels" must be an object of strings, e.g. "requiredLabels": {"zone": "a"}; got "#
            guard let labels = labels as? [String: Any] else { throw problem(form + shown(labels)) }
            if let (key, value) = labels.sorted(by: { $0.key < $1.key }).first(where: { !($0.value is String) }) {
                throw problem(form + "\"\(key)\": " + shown(value))
            }
        }
        if let retry = object["retry"] {
            guard var retry = retry as? [String: Any] else {
                throw problem(#""retry" must be an object, e.g. "retry": {"maxRetries": 3, "backoffBaseMs": 1000}; got "# + shown(retry))
            }
            try wholeNumber(&retry, "maxRetries", example: "3", within: "retry", least: 0, job: name)
            try wholeNumber(&retry, "backoffBaseMs", example: "1000 (1 second)", within: "retry", least: 1, job: name)
            try wholeNumber(&retry, "backoffCapMs", example: "60000 (1 minute)", within: "retry", least: 1, job: name)
            try backoff(&retry, job: name)
            object["retry"] = retry
        }
        try schedule(&object, job: name)
    }

    /// The schedule: its kind, and only the fields of that kind, each in its form.
    private static func schedule(_ object: inout [String: Any], job name: String) throws(CoordinationError) {
        func problem(_ text: String) -> CoordinationError { CoordinationError(.invalidConfiguration, "\(name): \(text)") }
        let kinds = #"{"kind": "once", "at": "2026-01-31T12:00:00Z"}, {"kind": "cron", "cron": "0 0 3 * * *"} or {"kind": "every", "everyMs": 60000}"#
        guard let value = object["schedule"] else { return }
        guard var schedule = value as? [String: Any] else { throw problem(#""schedule" must be an object: "# + kinds + "; got " + shown(value)) }
        guard let kind = schedule["kind"] as? String, ["once", "cron", "every"].contains(kind) else {
            let got = schedule["kind"].map { "; got \"kind\": \(shown($0))" } ?? "; \"kind\" is missing"
            throw problem(#""schedule" must have a "kind" of once, cron or every: "# + kinds + got)
        }
        let fields = ["once": ["at"], "cron": ["cron"], "every": ["everyMs", "start"]][kind] ?? []
        for field in ["at", "cron", "everyMs", "start"] where schedule[field] != nil && !fields.contains(field) {
            throw problem(
                "\"schedule\" of kind \"\(kind)\" takes \(fields.map { "\"\($0)\"" }.joined(separator: " and ")), not \"\(field)\": "
                    + kinds)
        }
        switch kind {
        case "once":
            try time(&schedule, "at", job: name)
        case "cron":
            guard let text = schedule["cron"] as? String else {
                throw problem(
                    #""schedule"."cron" must be a cron expression with seconds (sec min hour day month weekday, UTC unless it starts CRON_TZ=ZONE), e.g. "cron": "0 0 3 * * *""#
                        + (schedule["cron"].map { "; got \(shown($0))" } ?? "; it is missing"))
            }
            do {
                _ = try CronExpression(text)
            } catch {
                throw problem("\"schedule\".\"cron\": \(error.message)")
            }
        default:
            guard schedule["everyMs"] != nil else {
                throw problem(#""schedule" of kind "every" needs "everyMs", the interval in milliseconds, e.g. "everyMs": 60000"#)
            }
            try wholeNumber(&schedule, "everyMs", example: "60000 (1 minute)", within: "schedule", job: name)
            // The job's own check says "fixed rate interval", a name the file does not use.
            let shortest = JobSpec.shortestInterval / .milliseconds(1)
            if let every = schedule["everyMs"] as? Int64, Double(every) < shortest {
                throw problem(#""schedule"."everyMs" must be at least \#(Int(shortest)) (milliseconds), e.g. "everyMs": 60000 (1 minute); got \#(every)"#)
            }
            try time(&schedule, "start", job: name)
        }
        object["schedule"] = schedule
    }

    /// As `--misfire` without `--cron` or `--every`: whatever its policy, it would do nothing.
    /// After the policy's word is checked, so that a misspelt one is named as such.
    static func refuseMisfireOfOneShot(_ object: [String: Any], job name: String) throws(CoordinationError) {
        let kind = (object["schedule"] as? [String: Any])?["kind"] as? String ?? "once"
        guard object["misfire"] != nil, kind == "once" else { return }
        throw CoordinationError(
            .invalidConfiguration,
            #"\#(name): "misfire" applies to jobs with a "cron" or "every" schedule only: a one-shot job's run is created when it is added, and runs however late a worker takes it; leave "misfire" out"#)
    }

    /// A time: epoch milliseconds, or ISO 8601 (made epoch milliseconds here).
    private static func time(_ object: inout [String: Any], _ field: String, job name: String) throws(CoordinationError) {
        guard let value = object[field] else { return }
        let form = "\"schedule\".\"\(field)\" must be a time: ISO 8601, e.g. \"\(field)\": \"\(JobTime.example)\", or epoch milliseconds, e.g. \"\(field)\": 1769860800000"
        if let text = value as? String {
            do {
                let date = try JobTime.parse(text)
                object[field] = JobTime.epochMilliseconds(date)
            } catch {
                throw CoordinationError(.invalidConfiguration, "\(name): \(form); got \(shown(value)): \(error.description)")
            }
            return
        }
        guard let milliseconds = integer(value) else {
            throw CoordinationError(.invalidConfiguration, "\(name): \(form); got \(shown(value))")
        }
        object[field] = milliseconds
    }

    private static func string(_ object: inout [String: Any], _ field: String, example: String, job name: String) throws(CoordinationError) {
        guard let value = object[field], !(value is String) else { return }
        throw CoordinationError(
            .invalidConfiguration, "\(name): \"\(field)\" must be a string, e.g. \"\(field)\": \(example); got \(shown(value))")
    }

    private static func strings(_ object: inout [String: Any], _ field: String, job name: String) throws(CoordinationError) {
        guard let value = object[field] else { return }
        guard let array = value as? [Any], array.allSatisfy({ $0 is String }) else {
            // Name the element that is not a string: "got an array" alone hides where the mistake is.
            let got =
                if let array = value as? [Any], let index = array.firstIndex(where: { !($0 is String) }) {
                    "item #\(index + 1) is \(shown(array[index])), not a string"
                } else { "got \(shown(value))" }
            throw CoordinationError(
                .invalidConfiguration, "\(name): \"\(field)\" must be an array of strings, e.g. \"\(field)\": [\"small\", \"large\"]; \(got)")
        }
    }

    /// A whole number (`1e3` and `3.0` too), stored as an integer, from `least` to `most` when
    /// given: the job's own check words a number out of range by its own names ("timeout must be
    /// positive, got -5ms", "retry back-off base must be positive"), which are not the file's.
    private static func wholeNumber(
        _ object: inout [String: Any], _ field: String, example: String, within parent: String? = nil, least: Int64? = nil,
        most: Int64? = nil, job name: String
    ) throws(CoordinationError) {
        guard let value = object[field] else { return }
        let path = (parent.map { "\"\($0)\"." } ?? "") + "\"\(field)\""
        guard let number = integer(value) else {
            throw CoordinationError(
                .invalidConfiguration, "\(name): \(path) must be a whole number, e.g. \"\(field)\": \(example); got \(shown(value))")
        }
        if number < (least ?? .min) || number > (most ?? .max) {
            let range =
                switch (least, most) {
                case (let least?, let most?): "between \(least) and \(most)"
                case (let least?, nil): "at least \(least)"
                case (nil, let most?): "at most \(most)"
                case (nil, nil): ""
                }
            throw CoordinationError(.invalidConfiguration, "\(name): \(path) must be \(range), e.g. \"\(field)\": \(example); got \(number)")
        }
        object[field] = number
    }

    /// The back-off doubles from `backoffBaseMs` up to `backoffCapMs`. A base above the default cap
    /// with no cap given raises the cap to it, as `--backoff` does (the file's `"backoffBaseMs":
    /// 120000` alone was refused for a cap it did not give); a cap below the base is named.
    private static func backoff(_ retry: inout [String: Any], job name: String) throws(CoordinationError) {
        let defaults = RetryPolicy()
        let defaultBase = Int64(defaults.backoffBase / .milliseconds(1)), defaultCap = Int64(defaults.backoffCap / .milliseconds(1))
        let base = retry["backoffBaseMs"] as? Int64
        guard let cap = retry["backoffCapMs"] as? Int64 else {
            if let base, base > defaultCap { retry["backoffCapMs"] = base }
            return
        }
        guard cap < base ?? defaultBase else { return }
        let baseText = base.map { "\($0)" } ?? "\(defaultBase) when it is left out"
        throw CoordinationError(
            .invalidConfiguration,
            "\(name): \"retry\".\"backoffCapMs\" must be at least \"backoffBaseMs\" (\(baseText)): the back-off doubles from the "
                + "base up to the cap; got \(cap)")
    }

    /// The integer a JSON number stands for, within Int64; `nil` for anything else (true and false included).
    static func integer(_ value: Any) -> Int64? {
        guard let number = value as? NSNumber, !(value is String) else { return nil }
        let type = String(cString: number.objCType)
        if type == "c" || type == "B" { return nil }  // a JSON true or false
        if type == "d" || type == "f" {
            let double = number.doubleValue
            guard double.rounded() == double, abs(double) < 9.2e18 else { return nil }
            return Int64(double)
        }
        if type == "Q" && number.uint64Value > UInt64(Int64.max) { return nil }
        return number.int64Value
    }

    /// A value as a message shows it: JSON-like, long strings cut short.
    static func shown(_ value: Any) -> String {
        switch value {
        case let text as String: return "\"" + (text.count > 40 ? text.prefix(40) + "…" : text) + "\""
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        case is NSNull: return "null"
        case let number as NSNumber:
            let type = String(cString: number.objCType)
            if type == "c" || type == "B" { return number.boolValue ? "true" : "false" }
            return "\(number)"
        default: return "\(value)"
        }
    }
}
