import Foundation
import Subprocess
import SystemPackage

/// Runs a command given on coord's command line as a child process sharing coord's standard
/// streams. Cancelling the calling task stops the child: SIGTERM, then SIGKILL after `grace`.
enum ChildCommand {
    /// Runs `argv` and returns its exit status (128 + the signal number if a signal ended it).
    static func run(_ argv: [String], environment: [String: String] = [:], grace: Duration = .seconds(5)) async throws -> Int32 {
        guard let program = argv.first else {
            throw CommandLineProblem("no command given after --")
        }
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: grace)]
        let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        var updates: [Environment.Key: String?] = [:]
        for (name, value) in environment { updates[Environment.Key(stringLiteral: name)] = value }
        let termination: TerminationStatus
        do {
            termination = try await Subprocess.run(
                executable,
                arguments: Arguments(Array(argv.dropFirst())),
                environment: .inherit.updating(updates),
                platformOptions: options,
                input: .fileDescriptor(.standardInput, closeAfterSpawningProcess: false),
                output: .fileDescriptor(.standardOutput, closeAfterSpawningProcess: false),
                error: .fileDescriptor(.standardError, closeAfterSpawningProcess: false)
            ).terminationStatus
        } catch is SubprocessError {
            // It never started: say why, and give the status a shell gives (127 not found, 126 not runnable).
            let (status, why) = notStarted(program)
            StandardStreams.writeError("coord: cannot run \(program): \(why)")
            return status
        }
        switch termination {
        case .exited(let code): return Int32(code)
        case .signaled(let signal): return 128 + Int32(signal)
        }
    }
}

extension ChildCommand {
    /// Why `program` could not be started, with a shell's status for it.
    static func notStarted(_ program: String) -> (status: Int32, why: String) {
        guard program.contains("/") else { return (127, "no such command on PATH") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: program, isDirectory: &isDirectory) else { return (127, "no such file") }
        if isDirectory.boolValue { return (126, "it is a directory") }
        // By its mode bits: the permission check passes any file for root.
        var info = stat()
        let executableBits = stat(program, &info) == 0 ? info.st_mode & 0o111 : 0o111
        if executableBits == 0 || !FileManager.default.isExecutableFile(atPath: program) {
            return (126, "it is not executable (chmod +x?)")
        }
        return (126, "the system refused to start it")
    }
}
