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

    /// All of stdin. The blocking read runs on a thread of its own.
    static func readAll() async -> [UInt8] {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                let data = FileHandle.standardInput.readDataToEndOfFile()
                continuation.resume(returning: [UInt8](data))
            }
            thread.start()
        }
    }
}
