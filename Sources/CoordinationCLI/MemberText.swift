import CoordinationRecipes

/// The human line for one member of `coord members`: its id, then its metadata as text.
///
///     web-1  10.0.0.5:8080
///     web-2  "two\nlines"
///     web-3  <16 bytes>
///
/// Metadata that is one line of text is shown as it is; text with a line break or another
/// control character is quoted and escaped, since printed raw it would make lines of its own (a
/// line "--" in the middle of a state of `--watch`); bytes that are not UTF-8 are shown by their
/// count. So is an id or text that would read as something else: an id "--" (the line ending a
/// state), one with two spaces or an edge space (the separator), or one that begins with a
/// quote; metadata that begins with a quote or reads as a byte count. `--json` gives every byte.
enum MemberText {
    static func line(_ member: Member) -> String {
        let id = idNeedsQuotes(member.id) ? quoted(member.id) : member.id
        guard !member.metadata.isEmpty else { return id }
        return id + "  " + metadata(member.metadata)
    }

    static func metadata(_ bytes: [UInt8]) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { return "<\(bytes.count) bytes>" }
        let readsAsSomethingElse = text.hasPrefix("\"") || (text.hasPrefix("<") && text.hasSuffix(" bytes>"))
        guard readsAsSomethingElse || text.unicodeScalars.contains(where: needsEscape) else { return text }
        return quoted(text)
    }

    private static func idNeedsQuotes(_ id: String) -> Bool {
        id == "--" || id.hasPrefix("\"") || id.hasPrefix(" ") || id.hasSuffix(" ") || id.contains("  ")
            || id.unicodeScalars.contains(where: needsEscape)
    }

    /// `text` in double quotes, with quotes, backslashes and the characters of ``needsEscape(_:)`` escaped.
    private static func quoted(_ text: String) -> String {
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": quoted += "\\\\"
            case "\"": quoted += "\\\""
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case _ where needsEscape(scalar): quoted += "\\u{\(String(scalar.value, radix: 16))}"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    /// Control characters (C0, DEL, C1) and the Unicode line and paragraph separators, which
    /// some readers (Python's `splitlines`) take for line breaks.
    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }
}
