/// The end of a run's stdout or stderr as its history entry keeps it (a shell command's, or what a
/// handler put in ``RunOutput``): at most ``HistoryEntry/textLimit`` bytes. A tail that had to be
/// cut says so with a leading "…" (as a message cut to fit ends with one) and, where the kept part
/// holds a line break with something after it, starts at that line's beginning, the "…" on a line
/// of its own: a first line missing its beginning reads as a whole, different one.
package enum OutputTail {
    package static let cutMark = "…"

    /// The tail of a stream of which `kept` is the end and `total` the count of bytes written.
    /// Whole lines after a cut, else the kept bytes from a character's start; never more than
    /// `limit` bytes, the mark and its line break included.
    package static func text(ofLast kept: [UInt8], total: Int, limit: Int = HistoryEntry.textLimit) -> String {
        guard total > limit || kept.count > limit else { return String(decoding: kept, as: UTF8.self) }
        let mark = Array(cutMark.utf8)
        let window = kept.suffix(limit - mark.count)
        let newline = UInt8(ascii: "\n")
        if let lineBreak = window.firstIndex(of: newline), lineBreak < window.endIndex - 1 {
            // The mark's own line break takes the byte of the one dropped with the partial line.
            return cutMark + "\n" + String(decoding: window[(lineBreak + 1)...], as: UTF8.self)
        }
        var start = window.startIndex
        while start < window.endIndex && window[start] & 0xC0 == 0x80 { start += 1 }
        return cutMark + String(decoding: window[start...], as: UTF8.self)
    }
}
