import Coordination
import CoordinationScheduler

/// The fields a jobs file may give, and the refusal of any other: a misspelt or CLI-spelt field
/// (`"retries": 3`, `"strategy": "random"`) would otherwise be ignored and the job run with the
/// default. Stored jobs are read leniently instead (a later coord may add fields); only files
/// that people write are held to this.
enum JobsFileFields {
    /// The fields of a job: the scheduler's, and `command`.
    static var job: [String] { ["id", "command"] + JobSpec.jsonFields.filter { $0 != "id" } }

    /// What to write instead of a field as `coord job add` spells its flag, by the flag's camel case.
    static let jobHints: [String: String] = [
        "strategy": #"use "placement", e.g. "placement": "round-robin""#,
        "retries": #"use "retry": {"maxRetries": N}"#,
        "backoff": #"use "retry": {"backoffBaseMs": MILLISECONDS}"#,
        "timeout": #"use "timeoutMs", in milliseconds"#,
        "cron": #"use "schedule": {"kind": "cron", "cron": "0 0 3 * * *"}"#,
        "every": #"use "schedule": {"kind": "every", "everyMs": MILLISECONDS}"#,
        "at": #"use "schedule": {"kind": "once", "at": EPOCH_MILLISECONDS}"#,
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
