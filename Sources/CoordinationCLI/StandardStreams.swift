import Foundation

/// Reading stdin and writing stdout/stderr as bytes, exactly, without blocking the cooperative pool.
enum StandardStreams {
    /// `true` when stdout is a terminal (values then get a trailing newline).
    static var outputIsTerminal: Bool { isatty(STDOUT_FILENO) != 0 }

    static func write(_ bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
    }

    static func writeLine(_ line: String) {
        write(Array((line + "\n").utf8))
    }

    static func writeError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// All of stdin, or of `handle` (a file, a FIFO such as a shell's `<(…)`). The blocking read
    /// runs on a thread of its own.
    /// - Throws: ``UnreadableInput`` when it cannot be read (closed, or a directory).
    static func readAll(from handle: FileHandle = .standardInput) async throws(UnreadableInput) -> [UInt8] {
        let result: Result<[UInt8], UnreadableInput> = await withCheckedContinuation { continuation in
            let thread = Thread {
                do {
                    continuation.resume(returning: .success([UInt8](try handle.readToEnd() ?? Data())))
                } catch {
                    continuation.resume(returning: .failure(UnreadableInput(error)))
                }
            }
            thread.start()
        }
        return try result.get()
    }

    /// Why stdin could not be read, in the system's words ("Is a directory", "Bad file descriptor").
    struct UnreadableInput: Error, CustomStringConvertible {
        let reason: String
        init(_ error: any Error) {
            let error = error as NSError
            let posix = (error.userInfo[NSUnderlyingErrorKey] as? NSError).flatMap { $0.domain == NSPOSIXErrorDomain ? $0.code : nil }
                ?? (error.domain == NSPOSIXErrorDomain ? error.code : nil)
            reason = posix.map { String(cString: strerror(Int32($0))) } ?? error.localizedDescription
        }
        var description: String { "standard input cannot be read: \(reason)" }
    }
}
