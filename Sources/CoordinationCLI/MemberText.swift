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
        let id = idNeedsQuotes(member.id) ? EscapedText.quoted(member.id) : member.id
        guard !member.metadata.isEmpty else { return id }
        return id + "  " + metadata(member.metadata)
    }

    static func metadata(_ bytes: [UInt8]) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { return "<\(bytes.count) bytes>" }
        let readsAsSomethingElse = text.hasPrefix("\"") || (text.hasPrefix("<") && text.hasSuffix(" bytes>"))
        guard readsAsSomethingElse || text.unicodeScalars.contains(where: EscapedText.needsEscape) else { return text }
        return EscapedText.quoted(text)
    }

    private static func idNeedsQuotes(_ id: String) -> Bool {
        id == "--" || id.hasPrefix("\"") || id.hasPrefix(" ") || id.hasSuffix(" ") || id.contains("  ")
            || id.unicodeScalars.contains(where: EscapedText.needsEscape)
    }
}
