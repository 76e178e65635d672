import Foundation
import Synchronization

/// The lines written to the FIFO at `path` until `count` have come, each writer opening,
/// writing and closing it in turn. Opening and reading wait on a thread of its own; when the
/// caller is cancelled (a deadline), it returns what it has so far rather than wait on.
func readLines(fromFIFO path: String, count: Int) async throws -> [String] {
    let reader = FIFOReader()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                defer { reader.finished.store(true, ordering: .sequentiallyConsistent) }
                var lines: [String] = []
                do {
                    while lines.count < count, !reader.cancelled.load(ordering: .sequentiallyConsistent) {
                        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
                        let data = try handle.readToEnd() ?? Data()
                        try handle.close()
                        lines += String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
                    }
                    continuation.resume(returning: lines)
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
    } onCancel: {
        // The reader's open waits for a writer, which a cancellation cannot stop: a command that
        // never started once held a full test run for good. A writer that opens and closes at
        // once lets the reader read nothing and see the cancellation. The reader may not have
        // reached its open yet (a writer then finds no reader: ENXIO), so a thread of its own
        // keeps knocking until the reader is done.
        reader.cancelled.store(true, ordering: .sequentiallyConsistent)
        Thread {
            while !reader.finished.load(ordering: .sequentiallyConsistent) {
                let writer = open(path, O_WRONLY | O_NONBLOCK)
                if writer >= 0 { close(writer) }
                usleep(10_000)
            }
        }.start()
    }
}

/// The first line written to the FIFO at `path`, trimmed; empty when cancelled first.
func readLine(fromFIFO path: String) async throws -> String {
    try await readLines(fromFIFO: path, count: 1).first?.trimmingCharacters(in: .whitespaces) ?? ""
}

/// A FIFO read's state, shared by its thread and the cancellation that unblocks it.
private final class FIFOReader: Sendable {
    let cancelled = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)
}
