import Foundation
import Synchronization

/// Reading stdin and writing stdout/stderr as bytes, exactly, without blocking the cooperative pool.
enum StandardStreams {
    /// `true` when stdout is a terminal (values then get a trailing newline).
    static var outputIsTerminal: Bool { isatty(STDOUT_FILENO) != 0 }
    /// `true` when stdin is a terminal: someone types what is read, and must know how to end it.
    static var inputIsTerminal: Bool { isatty(STDIN_FILENO) != 0 }

    static func write(_ bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
    }

    static func writeLine(_ line: String) {
        write(Array((line + "\n").utf8))
    }

    static func writeError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// All of stdin, or of the file at `path` (`/dev/null` or a FIFO such as a shell's `<(…)`
    /// too). Opening and reading block, so both run on a thread of their own.
    /// - Throws: ``UnreadableInput`` when it cannot be opened or read (closed, or a directory).
    static func readAll(path: String? = nil) async throws(UnreadableInput) -> [UInt8] {
        if path == nil, let reader = stdinReadFor.withLock({ $0 }) {
            // A second read would find it empty: a value piped in would be taken as "".
            throw UnreadableInput(reason: "it was read already, for \(reader)")
        }
        let result: Result<[UInt8], UnreadableInput> = await withCheckedContinuation { continuation in
            let thread = Thread {
                do {
                    let handle: FileHandle
                    if let path {
                        let descriptor = open(path, O_RDONLY)
                        guard descriptor >= 0 else { throw UnreadableInput(reason: String(cString: strerror(errno)).lowercased()) }
                        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
                    } else {
                        handle = .standardInput
                    }
                    continuation.resume(returning: .success([UInt8](try handle.readToEnd() ?? Data())))
                } catch let error as UnreadableInput {
                    continuation.resume(returning: .failure(error))
                } catch {
                    continuation.resume(returning: .failure(UnreadableInput(error)))
                }
            }
            thread.start()
        }
        return try result.get()
    }

    /// The bytes of the file at `path`: `/dev/stdin` is stdin (whatever it is), a FIFO such as a
    /// shell's `<(…)` reads like a file.
    /// - Throws: ``UnreadableInput`` saying why: no such file, a directory, or the system's words.
    /// - Parameter what: what the file is, for a later reader of stdin when `path` is stdin.
    static func readFile(_ path: String, for what: String) async throws(UnreadableInput) -> [UInt8] {
        if ["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"].contains(path) {
            let bytes = try await readAll()
            stdinReadFor.withLock { $0 = what }
            return bytes
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw UnreadableInput(reason: "no such file") }
        if isDirectory.boolValue { throw UnreadableInput(reason: UnreadableInput.directory) }
        return try await readAll(path: path)
    }

    /// What stdin was read for, when a setting's file was `/dev/stdin` (a password file, a config file).
    private static let stdinReadFor = Mutex<String?>(nil)

    /// Why stdin or a file could not be read, in the system's words ("Is a directory", "Bad file
    /// descriptor"); `description` words it for stdin.
    struct UnreadableInput: Error, CustomStringConvertible {
        let reason: String
        init(reason: String) { self.reason = reason }
        init(_ error: any Error) {
            let error = error as NSError
            let posix = (error.userInfo[NSUnderlyingErrorKey] as? NSError).flatMap { $0.domain == NSPOSIXErrorDomain ? $0.code : nil }
                ?? (error.domain == NSPOSIXErrorDomain ? error.code : nil)
            reason = posix.map { String(cString: strerror(Int32($0))) } ?? error.localizedDescription
        }
        var description: String { "standard input cannot be read: \(reason)" }
        static let directory = "it is a directory"
        var isDirectory: Bool { reason == Self.directory }
    }
}
