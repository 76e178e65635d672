import Coordination

/// The indented, human form of a subtree used by `kv tree` and `coord demo`, one line per
/// record of a walk (parents first):
///
///     /app  (version 0)
///       config  (version 0)
///         color = "green"  (version 1)
///         lease  (version 0, ephemeral)
///
/// A record whose parent is not in the walk (a key another etcd client wrote without its parents,
/// as etcd needs none) shows its path from the nearest ancestor shown, `config/color` above with
/// no `/app/config`, rather than a name that would sit under a parent not its own.
struct TreeText {
    /// The keys shown so far that are ancestors of the next record, outermost first.
    private var shownAncestors: [Key] = []

    /// The line of the walk's next record.
    mutating func line(for record: Record) -> String {
        while let last = shownAncestors.last, record.key == last || !record.key.isUnder(last) { shownAncestors.removeLast() }
        let name = shownAncestors.last.flatMap { record.key.relative(to: $0) }.map { String($0.path.dropFirst()) } ?? record.key.path
        var text = String(repeating: "  ", count: shownAncestors.count) + name
        if !record.key.isRoot { shownAncestors.append(record.key) }
        if !record.value.isEmpty { text += " = " + Self.preview(record.value) }
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
