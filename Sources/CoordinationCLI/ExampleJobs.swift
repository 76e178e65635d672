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
            JobSpec(
                id: "slow", handler: ShellJobHandler.name, payload: command("echo started; sleep 5; echo never printed"),
                timeout: .milliseconds(300)),
        ]
    }

    private static func command(_ text: String) -> Data { Data(text.utf8) }
}
