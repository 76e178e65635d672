import Foundation
import Synchronization

/// The first `count` lines written to the FIFO at `path`, by one writer or by several in turn;
/// each line must end with a newline. Reading waits on a thread of its own; when the caller is
/// cancelled (a deadline), it returns the lines it has so far rather than wait on.
///
/// The FIFO is held open for reading and writing (Linux lets a FIFO be opened so, without
/// waiting) for the whole read. Opened for reading alone, it reports an end as each writer
/// closes, and a line written by the next writer before the reader closed and opened it again
/// was thrown away with the pipe: a CI run once waited 30 s for a line written in time. Held
/// open, it never ends between writers, and nothing waits in an `open` a cancellation cannot
/// reach: the thread polls and looks at the cancellation between polls.
func readLines(fromFIFO path: String, count: Int) async throws -> [String] {
    let reader = FIFOReader()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                let fd = open(path, O_RDWR | O_CLOEXEC)
                guard fd >= 0 else {
                    let error = POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                    continuation.resume(throwing: error)
                    return
                }
                defer { close(fd) }
                var pending: [UInt8] = []
                var lines: [String] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while lines.count < count, !reader.cancelled.load(ordering: .sequentiallyConsistent) {
                    var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    guard poll(&ready, 1, 20) > 0 else { continue }
                    let read = Foundation.read(fd, &buffer, buffer.count)
                    guard read > 0 else { continue }
                    pending += buffer[..<read]
                    while lines.count < count, let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                        pending.removeSubrange(...newline)
                    }
                }
                continuation.resume(returning: lines)
            }.start()
        }
    } onCancel: {
        reader.cancelled.store(true, ordering: .sequentiallyConsistent)
    }
}

/// The first line written to the FIFO at `path`, trimmed; empty when cancelled first.
func readLine(fromFIFO path: String) async throws -> String {
    try await readLines(fromFIFO: path, count: 1).first?.trimmingCharacters(in: .whitespaces) ?? ""
}

/// A FIFO read's cancellation, shared by its thread and the task that waits for it.
private final class FIFOReader: Sendable {
    let cancelled = Atomic<Bool>(false)
}
