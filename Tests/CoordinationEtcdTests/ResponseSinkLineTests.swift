@testable import CoordinationEtcd
import Testing

/// How a watch stream's bytes become lines, apart from a server: chunks split lines anywhere.
@Suite struct ResponseSinkLineTests {
    /// Feeds `chunks` to a sink and returns the lines it handed on and what it kept.
    func lines(of chunks: [[UInt8]], stopAfter limit: Int = .max) -> (lines: [[UInt8]], leftover: [UInt8], stopped: Bool) {
        let sink = ResponseSink()
        var lines: [[UInt8]] = []
        sink.onLine = { line in
            lines.append(Array(line))
            return lines.count < limit
        }
        var stopped = false
        for chunk in chunks where !stopped {
            stopped = !chunk.withUnsafeBufferPointer { sink.receive($0) }
        }
        return (lines, sink.leftover, stopped)
    }

    @Test func aLongLineInManyChunksComesWholeOnce() {
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: 100_000)
        let stream = long + Array("\n{\"b\":1}\n{\"c\"".utf8)
        let chunks = stride(from: 0, to: stream.count, by: 977).map { Array(stream[$0..<min($0 + 977, stream.count)]) }
        let result = lines(of: chunks)
        #expect(result.lines == [long, Array("{\"b\":1}".utf8)])
        #expect(result.leftover == Array("{\"c\"".utf8))
        #expect(!result.stopped)
    }

    @Test func severalLinesInOneChunkAndBlankLinesSkipped() {
        let result = lines(of: [Array("x\n \r\ny\nz".utf8), Array("z\n".utf8)])
        #expect(result.lines == [Array("x".utf8), Array("y".utf8), Array("zz".utf8)])
        #expect(result.leftover.isEmpty)
    }

    @Test func aLineRefusedStopsTheStreamAndKeepsTheRest() {
        let result = lines(of: [Array("x\ny\nrest".utf8), Array("more\n".utf8)], stopAfter: 1)
        #expect(result.lines == [Array("x".utf8)])
        #expect(result.stopped)
        #expect(result.leftover == Array("y\nrest".utf8))
    }
}
