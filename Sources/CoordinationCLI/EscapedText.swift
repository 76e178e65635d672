/// Text in double quotes on one line, for the human output of `coord members` and `coord kv tree`:
/// quotes and backslashes escaped, and so are the characters that would break the line or hide
/// in it (see ``needsEscape(_:)``), so that the quoted text reads back unambiguously.
enum EscapedText {
    /// `text` in double quotes, with quotes, backslashes and the characters of ``needsEscape(_:)`` escaped.
    static func quoted(_ text: String) -> String {
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
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }
}
