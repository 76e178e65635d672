import Coordination

/// The indented, human form of a subtree used by `kv tree` and `coord demo`:
///
///     /app  (version 0)
///       config  (version 0)
///         color = "green"  (version 1)
///         lease  (version 0, ephemeral)
enum TreeText {
    /// One line per record of a walk from `top`; the records come parents first.
    static func line(for record: Record, under top: Key) -> String {
        let indent = String(repeating: "  ", count: max(0, record.key.depth - max(top.depth, 1)))
        let name = record.key == top || top.isRoot && record.key.depth == 1 ? record.key.path : record.key.name
        var text = indent + name
        if !record.value.isEmpty { text += " = " + preview(record.value) }
        text += "  (version \(record.version)" + (record.isEphemeral ? ", ephemeral)" : ")")
        return text
    }

    /// A short, single-line rendering of a value: text of at most 60 characters quoted and
    /// escaped (see ``EscapedText``: a two-line `"a\nb"` shows as text, as `coord members` shows
    /// metadata), or its size when it is not UTF-8 or longer.
    static func preview(_ value: [UInt8]) -> String {
        let limit = 60
        guard value.count <= limit * 4, let text = String(validating: value, as: UTF8.self), text.count <= limit
        else { return "<\(value.count) bytes>" }
        return EscapedText.quoted(text)
    }
}
