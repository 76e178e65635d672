import CoordinationTestSupport
import Foundation
import Testing

/// The tests' FIFO reads must end with their deadline, or a command that never starts holds the
/// whole test run instead of failing its test.
@Suite("reading the tests' FIFOs")
struct FIFOReadingTests {
    @Test("a read cancelled before its thread opens the FIFO still ends, with nothing read")
    func cancelledBeforeTheOpen() async throws {
        let fifo = try Self.fifo()
        defer { unlink(fifo) }
        // The task is cancelled before the read starts, so its cancellation comes before the
        // reading thread reaches its open: the race a knock on the FIFO alone lost.
        let (ended, signal) = AsyncStream.makeStream(of: [String].self)
        Task {
            withUnsafeCurrentTask { $0?.cancel() }
            signal.yield((try? await readLines(fromFIFO: fifo, count: 1)) ?? ["an error"])
            signal.finish()
        }
        let lines = try await withDeadline("the cancelled read to end", limit: .seconds(10)) {
            var iterator = ended.makeAsyncIterator()
            return await iterator.next()
        }
        #expect(lines == [])
    }

    @Test("a read waiting for a writer ends when its deadline passes")
    func cancelledWhileWaiting() async throws {
        let fifo = try Self.fifo()
        defer { unlink(fifo) }
        await #expect(throws: (any Error).self) {
            try await withDeadline("a writer that never comes", limit: .milliseconds(300)) { try await readLine(fromFIFO: fifo) }
        }
    }

    @Test("lines from writers in turn, until the count has come")
    func linesFromWritersInTurn() async throws {
        let fifo = try Self.fifo()
        defer { unlink(fifo) }
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        // Writers closing one right after the other: a reader that took each close for the end
        // and opened the FIFO again lost the line written in between (a CI run, and 3 of 5 of
        // these runs).
        let expected = ["one", " two "] + (3...40).map { "line \($0)" }
        writer.arguments = ["-c", expected.map { "echo '\($0)' > '\(fifo)'" }.joined(separator: "; ")]
        try writer.run()
        let lines = try await withDeadline("\(expected.count) lines") { try await readLines(fromFIFO: fifo, count: expected.count) }
        #expect(lines == expected)
    }

    static func fifo() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("coord-fifo-\(UUID().uuidString)").path
        try #require(mkfifo(path, 0o600) == 0)
        return path
    }
}
