import CoordinationLocalServers
import Foundation
import Synchronization

/// Runs the real `coord` binary built next to this test bundle, in a scratch directory with a
/// controlled environment, and collects what it printed.
struct CoordProcess {
    struct Result {
        var status: Int32
        var stdout: [UInt8]
        var stderr: String
        /// When coord exited, as Foundation's thread saw it then: a duration timed to the test's
        /// task resuming after the run would add that task's lag (``ExitRecord``).
        var exitedAt: ContinuousClock.Instant
        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        /// The stderr lines, without the final newline.
        var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
    }

    /// The built binary: `COORD_BINARY` if set, else `coord` beside the test bundle.
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["COORD_BINARY"] {
            return URL(fileURLWithPath: path)
        }
        let executable = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        var folder = executable.deletingLastPathComponent()
        // On Linux the tests run from `<build>/debug/XPackageTests.xctest`; elsewhere from inside a bundle.
        while !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("coord").path),
            folder.pathComponents.count > 1
        {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("coord")
    }

    /// A fresh, empty directory to run in (so no `./coord.json` is found by accident).
    let directory: URL
    /// The environment: PATH, and HOME pointing at the scratch directory, plus `extra`.
    var environment: [String: String]

    init(environment extra: [String: String] = [:]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("coord-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": directory.path]
        environment.merge(extra) { $1 }
    }

    /// Writes `text` to `name` in the scratch directory and returns its path.
    func write(_ text: String, to name: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func removeDirectory() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `coord arguments`, feeding `input` on stdin, and waits for it to exit.
    /// With `interruptAfterFirstLine`, sends SIGINT once the first stdout line has arrived; with
    /// `signalAfterFirstLine`, that signal instead, and with `repeatingSignal`, again about every
    /// millisecond until coord exits, as a supervisor that insists (or `timeout`, which signals
    /// coord and then its group) sends it again while coord stops.
    /// With `stdinPath`, stdin is that path opened for reading instead (a directory gives a stdin that cannot be read).
    /// A coord still running after `timeout` is killed, and its stderr says so (its status is then 9).
    /// With `program`, that runs instead, with `arguments` (a shell that starts coord with bytes
    /// that `Process` cannot pass, such as arguments that are not UTF-8).
    func run(
        _ arguments: [String], input: [UInt8] = [], stdinPath: String? = nil, interruptAfterFirstLine: Bool = false,
        signalAfterFirstLine: Int32? = nil, repeatingSignal: Bool = false, timeout: Duration = .seconds(60), program: URL? = nil
    ) async throws -> Result {
        let process = Process()
        process.executableURL = program ?? Self.binary
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = directory
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = try stdinPath.map { path in
            guard let handle = FileHandle(forReadingAtPath: path) else { throw CocoaError(.fileReadNoPermission) }
            return handle
        } ?? stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let exitRecord = ExitRecord(of: process)
        try await ChildProcessLaunch.run(process)
        // A bound, so that a coord that never exits fails its test instead of hanging the run.
        let killed = Atomic<Bool>(false)
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            if process.isRunning {
                killed.store(true, ordering: .relaxed)
                kill(process.processIdentifier, SIGKILL)
            }
        }
        defer { watchdog.cancel() }

        // Blocking pipe I/O runs on threads of its own, never on the cooperative pool.
        async let written: Void = Self.onThread {
            // A coord that exits without reading all of its input (a mistake refused first) must
            // fail its test, not end the test process: SIGPIPE, blocked on this thread only (no
            // child inherits the mask), leaves the write failing with EPIPE.
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            if !input.isEmpty { try? stdin.fileHandleForWriting.write(contentsOf: input) }
            try? stdin.fileHandleForWriting.close()
        }
        async let errorBytes = Self.onThread { stderr.fileHandleForReading.readDataToEndOfFile() }
        async let outputBytes = Self.onThread { () -> Data in
            let handle = stdout.fileHandleForReading
            let signal = signalAfterFirstLine ?? (interruptAfterFirstLine ? SIGINT : nil)
            guard let signal else { return handle.readDataToEndOfFile() }
            var data = Data()
            while !data.contains(UInt8(ascii: "\n")) {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                data.append(chunk)
            }
            if process.isRunning { kill(process.processIdentifier, signal) }
            if repeatingSignal {
                // On a thread of its own, so that this one goes on reading what coord prints.
                Thread {
                    while process.isRunning {
                        kill(process.processIdentifier, signal)
                        usleep(1_000)
                    }
                }.start()
            }
            data.append(handle.readDataToEndOfFile())
            return data
        }
        _ = await written
        let (output, error) = await (outputBytes, errorBytes)
        let status = await Self.onThread {
            process.waitUntilExit()
            return process.terminationStatus
        }
        // Foundation runs the termination handler just after the exit shows: moments away.
        let exitedAt = (try? await exitRecord.wait())?.at ?? .now
        var stderrText = String(decoding: error, as: UTF8.self)
        if killed.load(ordering: .relaxed) { stderrText += "[test: coord was still running after \(timeout) and was killed]\n" }
        return Result(status: status, stdout: [UInt8](output), stderr: stderrText, exitedAt: exitedAt)
    }

    private static func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }
}
