/// Suggestions for misspelt names (config keys, fields), so that an error can say what was meant.
enum Spelling {
    /// The known name closest to `name`, when it is close enough to be a likely misspelling: the
    /// same but for case, or a letter or two apart (one for short words, which are near too many others).
    static func nearest(to name: String, among known: [String]) -> String? {
        let allowed = max(1, min(2, name.count / 3))
        guard let best = known.min(by: { distance(name, $0) < distance(name, $1) }) else { return nil }
        return distance(name, best) <= allowed ? best : nil
    }

    /// Levenshtein distance, case-insensitive.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
