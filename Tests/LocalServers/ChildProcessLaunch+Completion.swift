import Coordination
import Foundation

extension ChildProcessLaunch {
    /// Runs a tool (openssl, say) in `directory` to completion without blocking the caller's
    /// thread, its output discarded.
    /// - Throws: when it cannot start; `unavailable` when it exits with a status other than 0.
    public static func runToCompletion(_ executable: String, _ arguments: [String], in directory: String) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try await run(process)
        let status = await ChildProcessWait.exit(of: process).status
        if status != 0 {
            throw CoordinationError(.unavailable, "\(executable) \(arguments.joined(separator: " ")) exited with \(status)")
        }
    }
}
