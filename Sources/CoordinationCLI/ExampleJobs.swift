import CoordinationScheduler
import Foundation

/// The jobs `coord run` runs without a jobs file (and prints with --example): one of each kind,
/// all shell commands that finish in well under a second.
enum ExampleJobs {
    static var all: [JobSpec] {
        [
            JobSpec(id: "hello", handler: ShellJobHandler.name, payload: command("echo \"hello from $COORD_WORKER_ID\"")),
            JobSpec(
                id: "resize", handler: ShellJobHandler.name,
                payload: command("echo \"item $COORD_SHARD of $COORD_SHARDS: $COORD_SHARD_PARAM\""), shards: 4,
                shardParameters: ["small", "medium", "large", "huge"]),
            JobSpec(
                id: "tick", handler: ShellJobHandler.name, payload: command("date -u +%H:%M:%S"),
                schedule: .cron(try! CronExpression("*/2 * * * * *")), overlap: .skip),
            // Fails on its first attempt and succeeds on the retry: the attempt number tells them apart.
            JobSpec(
                id: "flaky", handler: ShellJobHandler.name,
                payload: command("if [ \"$COORD_ATTEMPT\" = 1 ]; then echo 'first attempt fails' >&2; exit 1; fi; echo recovered"),
                retry: RetryPolicy(maxRetries: 2, backoffBase: .milliseconds(200), backoffCap: .seconds(1))),
            // Its first attempt outruns the timeout and is stopped; the retry finishes in time, so
            // the main job's `--until-idle` ends with status 0 while showing a timeout. A whole
            // second: at 300 ms, a retry on a loaded machine (starting a shell) timed out too.
            JobSpec(
                id: "slow", handler: ShellJobHandler.name,
                payload: command("echo started; if [ \"$COORD_ATTEMPT\" = 1 ]; then sleep 5; echo never printed; fi; echo done in time"),
                timeout: .seconds(1), retry: RetryPolicy(maxRetries: 1, backoffBase: .milliseconds(200), backoffCap: .seconds(1))),
        ]
    }

    /// What the printed example file says about each job's fields: the file format's only
    /// documentation that travels with a file (JSON has no comments; a jobs file ignores `comment`).
    static let comments: [String: String] = [
        "hello":
            #"A jobs file is a JSON array of jobs like these. "command" runs a shell command; "handler" runs code registered in your workers, with "payload" (base64) or "payloadText" (text). With no "schedule" a job runs once, now."#,
        "resize":
            #""shards": items per fire time (1-61), each a run of its own; "shardParameters"[i] goes to item i (COORD_SHARD_PARAM); without "shards", one item per parameter."#,
        "tick":
            #""schedule" is {"kind": "cron", "cron": "sec min hour day month weekday"} (UTC, or "CRON_TZ=Europe/Paris sec min …" for a zone's clock), {"kind": "every", "everyMs": MILLISECONDS} or {"kind": "once", "at": "2026-01-31T12:00:00Z"} ("at" and "start" also take epoch milliseconds). "overlap": skip, queue or replace; "misfire" (cron and every only): fire-once-now or skip."#,
        "flaky": #""retry": "maxRetries", and the back-off before each retry in milliseconds: "backoffBaseMs", doubling up to "backoffCapMs"."#,
        "slow": #""timeoutMs": milliseconds an attempt may run before it is stopped and recorded as timed out (then retried, as here, if "retry" allows)."#,
    ]

    /// The comment of an example job, when `spec` is one (as it is, not a job of the same id).
    static func comment(for spec: JobSpec) -> String? {
        guard let comment = comments[spec.id], all.contains(spec) else { return nil }
        return comment
    }

    private static func command(_ text: String) -> Data { Data(text.utf8) }
}
