import Foundation
import CoordinationTestSupport
import Testing

/// What coord's parent hands it (standard descriptors) and what the command run by `coord lock`
/// inherits in turn.
@Suite(.serverLoadLimit) struct InheritedProcessStateTests {
    /// Runs `script` with `/bin/sh -c`, with `$0` the coord binary, and returns its status, stdout and stderr.
    static func shell(_ script: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script, CoordProcess.binary.path] + arguments
        process.environment = ProcessInfo.processInfo.environment
        let stdout = Pipe(), stderr = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Blocking reads on a thread of their own; both pipes end when coord and its command exit.
        return await withCheckedContinuation { continuation in
            Thread {
                let output = stdout.fileHandleForReading.readDataToEndOfFile()
                let error = stderr.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(
                    returning: (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self)))
            }.start()
        }
    }

    /// Started with fd 0, 1 or 2 closed, coord's next open (an epoll handle, a store socket) took
    /// that number, and the command inherited it as its stdin or stdout.
    @Test(
        "started with stdin, stdout or stderr closed, coord lock gives its command /dev/null there, and exits with its status",
        arguments: [TestBackend.memory, .etcd], [0, 1, 2])
    func closedDescriptorIsDevNull(backend: TestBackend, descriptor: Int) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            let url = backend.url(handles.namespace, ttl: handles.ttl) ?? "memory://"
            // The command's shell says where its descriptor leads on one that is open (stderr for
            // stdout, stdout for the others), and exits 3.
            let report = descriptor == 1 ? ">&2" : ""
            let result = try await Self.shell(
                "exec \"$0\" \"$@\" \(descriptor)>&-",
                ["--store", url, "lock", "closed-\(descriptor)", "--", "sh", "-c", "where=$(readlink /proc/$$/fd/\(descriptor)); echo \"$where\" \(report); exit 3"])
            #expect(result.status == 3, "\(result.stderr)")
            let said = descriptor == 1 ? result.stderr : result.stdout
            #expect(said == "/dev/null\n", "stdout: \(result.stdout), stderr: \(result.stderr)")
            if descriptor != 1 { #expect(result.stderr.isEmpty) }
            if descriptor == 1 { #expect(result.stdout.isEmpty) }
        }
    }
}
