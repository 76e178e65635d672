import Foundation

/// The bash script every chaos job runs: it reports `begin` to the sink, works (sleeps), reports
/// `end`, and may then fail its first attempt on purpose (so retries happen). A report the sink refuses
/// (`stale`) or cannot take fails the command, as a write refused by fenced storage would.
///
/// bash, not /bin/sh: the report goes through bash's /dev/tcp, so no other client is needed.
enum JobScript {
    static let text = """
        #!/bin/bash
        # usage: job.sh SINK_PORT WORK_SECONDS FAIL_FIRST_ATTEMPT(0|1)
        port=$1 work=$2 fail_first=$3
        report() {
            exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 2
            printf '%s %s %s %s %s %s %s\\n' "$1" "$COORD_JOB_ID" "${COORD_SHARD:-0}" "$COORD_FENCING_TOKEN" \\
                "$COORD_RUN_ID" "$COORD_WORKER_ID" "$COORD_ATTEMPT" >&3
            read -r answer <&3
            exec 3<&-
            [ "$answer" = ok ] || exit 3
        }
        report begin
        sleep "$work"
        report end
        # After its end, so that the sink knows the run over: a run open at the sink is one whose
        # command was cut short (a lost worker's, which takeover times measure).
        if [ "$fail_first" = 1 ] && [ "$COORD_ATTEMPT" = 1 ]; then exit 1; fi

        """

    /// Writes the script into `folder` and returns its path.
    static func install(in folder: URL) throws -> String {
        let path = folder.appendingPathComponent("job.sh").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
        return path
    }

    /// The shell command of a job: run the script with its sink port, work time and failure flag.
    static func command(script: String, sinkPort: Int, work: Duration, failFirstAttempt: Bool) -> String {
        let seconds = String(format: "%.3f", work / .seconds(1))
        return "bash \(script) \(sinkPort) \(seconds) \(failFirstAttempt ? 1 : 0)"
    }
}
