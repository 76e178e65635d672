import CoordinationScheduler
import Foundation
import Subprocess
import Synchronization
import SystemPackage

/// The built-in `shell` handler of `coord worker` and `coord run`: the payload is a command for
/// `/bin/sh -c`, run with the run's identity in its environment. A non-zero exit fails the
/// attempt (the job's retry policy decides what follows); the last few KB of stdout and stderr go
/// into the history entry. Cancellation (timeout, cancel request, lost session, shutdown) stops
/// the command: SIGTERM, then SIGKILL after `grace`. A worker that dies without cancelling
/// (SIGKILL, a crash) takes its commands with it: see ``supervisor``.
enum ShellJobHandler {
    static let name = "shell"
    /// How much of each stream the history keeps.
    static let tailLimit = 4096

    static func handler(grace: Duration = .seconds(3)) -> JobHandler {
        { context in try await run(context, grace: grace) }
    }

    /// The variables a command finds in its environment.
    static func environment(for context: RunContext) -> [String: String] {
        var variables = [
            "COORD_JOB_ID": context.job,
            "COORD_RUN_ID": context.run,
            "COORD_SHARD": String(context.item),
            "COORD_SHARDS": String(context.itemCount),
            "COORD_ATTEMPT": String(context.attempt),
            "COORD_FENCING_TOKEN": String(context.fencingToken),
            "COORD_WORKER_ID": context.worker,
        ]
        if let parameter = context.itemParameter { variables["COORD_SHARD_PARAM"] = parameter }
        return variables
    }

    /// The shell script each command runs under, with the command as `$1`. Its standard input is
    /// the worker's lifeline: a pipe whose other end only the worker holds, so it reaches end of
    /// file when the worker's process ends, however it ends. Then the script kills its process
    /// group (itself, the command and whatever the command started). Without it a worker killed
    /// with SIGKILL left its command running while its run was taken over by another worker: the
    /// job ran twice at once. SIGKILL at once, not SIGTERM and a grace: the run may be taken over
    /// as soon as the dead worker's lease ends, two thirds of a TTL after its death at the
    /// earliest. The command's own exit (status or signal) is passed on as the script's (and
    /// the shell's own report of it, "Terminated", kept out of the command's stderr).
    static let supervisor = #"""
        exec 3<&0
        /bin/sh -c "$1" 3<&- </dev/null &
        command=$!
        { while read -r _ <&3; do :; done; kill -KILL 0; } </dev/null &
        lifeline=$!
        exec 3<&-
        wait "$command" 2>/dev/null
        status=$?
        kill "$lifeline" 2>/dev/null
        if [ "$status" -gt 128 ]; then kill -s "$(kill -l "$status")" $$; fi
        exit "$status"
        """#

    static func run(_ context: RunContext, grace: Duration) async throws -> RunOutput {
        let command = String(decoding: context.payload, as: UTF8.self)
        guard !command.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw RunFailure("the job's payload holds no shell command")
        }
        var options = PlatformOptions()
        // A process group of its own, signalled as a whole: `sh -c 'sleep 5'` must not leave its
        // `sleep` running (and holding the output pipes open) after the shell got SIGTERM.
        options.processGroupID = 0
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: grace)]
        var updates: [Environment.Key: String?] = [:]
        for (name, value) in environment(for: context) { updates[Environment.Key(stringLiteral: name)] = value }
        let result = try await Subprocess.run(
            .path(FilePath("/bin/sh")), arguments: ["-c", supervisor, "coord-job", command], environment: .inherit.updating(updates),
            platformOptions: options, input: .inputWriter, output: .sequence, error: .sequence
        ) { execution in
            // Nothing is written to the lifeline (standard input); it stays open while this runs.
            // Both streams are drained concurrently, or a command filling one pipe would block.
            let (output, error) = (execution.standardOutput, execution.standardError)
            async let out = tail(of: output)
            async let err = tail(of: error)
            return try await (out, err)
        }
        let (stdoutTail, stderrTail) = result.closureResult
        let out = stdoutTail.isEmpty ? nil : stdoutTail
        let err = stderrTail.isEmpty ? nil : stderrTail
        // The command may have exited on its own SIGTERM: a cancelled attempt is the worker's to record.
        try Task.checkCancellation()
        switch result.terminationStatus {
        case .exited(0):
            return RunOutput(message: nil, stdoutTail: out, stderrTail: err)
        case .exited(let code):
            throw RunFailure("command exited with status \(code)", stdoutTail: out, stderrTail: err)
        case .signaled(let signal):
            throw RunFailure("command was killed by signal \(signal)", stdoutTail: out, stderrTail: err)
        }
    }

    /// The last ``tailLimit`` bytes of a stream, as text (a split character at the cut is dropped).
    static func tail(of stream: SubprocessOutputSequence) async throws -> String {
        var kept: [UInt8] = []
        for try await buffer in stream {
            buffer.withUnsafeBytes { kept.append(contentsOf: $0) }
            if kept.count > 2 * tailLimit { kept.removeFirst(kept.count - tailLimit) }
        }
        if kept.count > tailLimit { kept.removeFirst(kept.count - tailLimit) }
        // Skip UTF-8 continuation bytes left at the front by the cut.
        while let first = kept.first, first & 0xC0 == 0x80 { kept.removeFirst() }
        return String(decoding: kept, as: UTF8.self)
    }
}
