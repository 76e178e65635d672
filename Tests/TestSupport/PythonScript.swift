import Coordination
import Foundation
import Synchronization
import Testing

/// Runs a Python script (a third-party client such as kazoo or etcd3gw, for cross-checks) as a
/// child process: JSON in on stdin, whatever it prints out.
public enum PythonScript {
    /// What ``canImport(_:)`` found for each module asked about: python is started once per module.
    private static let importable = Mutex<[String: Bool]>([:])

    /// `true` when `python3` can import `module`. Holds the calling thread while python starts (the
    /// first time for each module): from async code, use ``require(_:install:)``.
    public static func canImport(_ module: String) -> Bool {
        if let known = importable.withLock({ $0[module] }) { return known }
        let found = (try? runBlocking(["-c", "import \(module)"], input: Data()))?.status == 0
        importable.withLock { $0[module] = found }
        return found
    }

    /// Returns when `python3` can import `module` (asked off the cooperative pool). Otherwise,
    /// under CI, throws (a missing client is a failure there); locally, skips the current test
    /// with how to install it.
    public static func require(_ module: String, install: String) async throws {
        if await OwnThread.run({ canImport(module) }) { return }
        let reason = "python3 cannot import \(module) (\(install))"
        if TestEnvironment.isCI { throw TestServerMissing(description: reason) }
        FileHandle.standardError.write(Data("⚠️ skipped \(Test.current?.name ?? "a test"): \(reason)\n".utf8))
        try Test.cancel(Comment(rawValue: "skipped: " + reason))
    }

    /// Runs `script` with `arguments`, off the cooperative pool (it blocks on the child process).
    /// - Throws: `unavailable` with the script's stderr when it exits non-zero.
    public static func run(_ script: String, _ arguments: [String], input: Data) async throws -> Data {
        let result = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<(status: Int32, output: Data, error: String), any Error>) in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runBlocking(["-c", script] + arguments, input: input) })
            }
        }
        guard result.status == 0 else {
            throw CoordinationError(.unavailable, "python script failed (\(result.status)): \(result.error)")
        }
        return result.output
    }

    private static func runBlocking(_ arguments: [String], input: Data) throws -> (status: Int32, output: Data, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // stderr is drained beside stdout: read after it, a script that filled the stderr pipe
        // (64 KiB of warnings or a long traceback) would wait on it while we waited on stdout.
        let error = DrainedOutput()
        let errorRead = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let read = stderr.fileHandleForReading.readDataToEndOfFile()
            error.data.withLock { $0 = read }
            errorRead.signal()
        }
        // The scripts read all of stdin before they print.
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        errorRead.wait()
        process.waitUntilExit()
        return (process.terminationStatus, output, String(decoding: error.data.withLock { $0 }, as: UTF8.self))
    }
}

/// What a thread of its own read from a child's pipe, for the thread that waits for it.
private final class DrainedOutput: Sendable {
    let data = Mutex(Data())
}
