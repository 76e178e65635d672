@testable import CoordinationScheduler
import Foundation
import Testing

/// How a run's output tail shows that it was cut: `coord runs --json` printed a tail that began in
/// the middle of a line, with nothing saying that anything came before.
@Suite("an output tail cut to its limit starts at a line and says it was cut")
struct OutputTailTests {
    static func tail(_ text: String, limit: Int) -> String {
        let bytes = Array(text.utf8)
        return OutputTail.text(ofLast: Array(bytes.suffix(2 * limit)), total: bytes.count, limit: limit)
    }

    @Test("output within the limit is kept whole, unmarked")
    func shortOutput() {
        #expect(Self.tail("one\ntwo\n", limit: 8) == "one\ntwo\n")
        #expect(Self.tail("", limit: 8) == "")
    }

    @Test("a cut output starts at the first whole line kept, after a line holding the mark")
    func cutAtLineStart() {
        let text = (1...1000).map { "line \($0)\n" }.joined()
        let tail = Self.tail(text, limit: 40)
        // "line 997\n" would fit the 37 bytes after the mark, but not with the mark's line break.
        #expect(tail == "…\nline 998\nline 999\nline 1000\n")
        #expect(Self.tail(text, limit: 41) == "…\nline 997\nline 998\nline 999\nline 1000\n")
    }

    @Test("a cut with no line break to start at keeps what fits from a character's start, marked")
    func cutInOneLongLine() {
        let tail = Self.tail(String(repeating: "é", count: 100), limit: 20)
        // 17 bytes after the 3-byte mark: 8 whole é's, the split one's second byte dropped.
        #expect(tail == "…" + String(repeating: "é", count: 8))
        // A line break only at the very end starts no line: the last line is kept, partly.
        #expect(Self.tail(String(repeating: "x", count: 100) + "\n", limit: 10) == "…xxxxxx\n")
    }

    @Test("a tail of at most the limit never grows past it with the mark")
    func neverPastTheLimit() {
        for length in [9, 10, 11, 12, 25, 400] {
            for text in [String(repeating: "a\n", count: length), String(repeating: "ab", count: length)] {
                let tail = Self.tail(text, limit: 10)
                #expect(tail.utf8.count <= 10, "\(tail.debugDescription)")
                #expect(tail.hasPrefix("…") == (text.utf8.count > 10), "\(tail.debugDescription)")
            }
        }
    }

    @Test("a Swift handler's tail is cut as a shell command's is")
    func handlerTail() {
        let text = (1...1000).map { "line \($0)\n" }.joined()
        let entry = HistoryEntry(job: "j", finishedAt: Date(), outcome: .succeeded, stdoutTail: text, stderrTail: "short\n")
        #expect(entry.stdoutTail == Self.tail(text, limit: HistoryEntry.textLimit))
        #expect(entry.stdoutTail?.hasPrefix("…\nline ") == true)
        #expect(entry.stdoutTail.map { $0.utf8.count <= HistoryEntry.textLimit } == true)
        #expect(entry.stderrTail == "short\n")
    }
}
