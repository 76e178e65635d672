/// One line of progress on a terminal, redrawn in place: what the progress printers (a
/// migration's, a recursive delete's) write to draw it and to clear it before other output.
struct RedrawnLine {
    private var open = false

    /// The bytes that replace the line on screen with `text` (no newline: the next draw replaces it).
    mutating func draw(_ text: String) -> String {
        open = true
        return "\r\u{1B}[2K" + text
    }

    /// The bytes that clear the line, if one is drawn.
    mutating func clear() -> String? {
        defer { open = false }
        return open ? "\r\u{1B}[2K" : nil
    }
}
