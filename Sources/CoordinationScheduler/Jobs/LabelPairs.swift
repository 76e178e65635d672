/// Labels written as `key=value` pairs, a worker's or those a job requires: one rule for
/// `coord`'s `--labels zone=a,disk=ssd` and a configuration reader's `labels`, so that neither
/// takes what the other refuses.
package enum LabelPairs {
    package enum Problem: Error, Equatable {
        /// `pair` is not `key=value` with both parts there; `why` says which part is missing.
        case malformed(pair: String, why: String)
        /// `key` is given twice, as `first` then `second` (its whole pair): a label has one
        /// value, and keeping either would silently drop the other.
        case repeated(key: String, first: String, second: String)
        /// `pair` has white space around its key or value (`zone=a, disk=ssd`), which would be
        /// part of the label, so that no worker's label matched a job's; `written` is it without.
        case spaced(pair: String, written: String)
    }

    /// Whether a label's name or value starts or ends with white space: refused wherever labels
    /// come from (flags, configuration, a job's spec, a worker's configuration), since a label
    /// ` disk` matches no `disk`, and the job that requires it waits for a worker nobody starts.
    package static func isSpaced(_ part: Substring) -> Bool {
        part.first?.isWhitespace == true || part.last?.isWhitespace == true
    }

    /// The problem of labels given as a dictionary (a job's required labels, a worker's labels):
    /// `nil` when none is spaced.
    package static func spacedLabel(in labels: [String: String]) -> String? {
        labels.sorted { $0.key < $1.key }.first { isSpaced(Substring($0.key)) || isSpaced(Substring($0.value)) }.map {
            "label '\($0.key)=\($0.value)' has white space around its name or value, which would be part of the label "
                + "and match no other; write it without ('\(trimmed(Substring($0.key)))=\(trimmed(Substring($0.value)))')"
        }
    }

    private static func trimmed(_ part: Substring) -> String {
        String(part.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    /// The labels of `pairs`, each split at its first `=` (a value may hold more).
    package static func labels(_ pairs: some Sequence<some StringProtocol>) throws(Problem) -> [String: String] {
        var labels: [String: String] = [:]
        for pair in pairs {
            let parts = String(pair).split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.contains(where: isSpaced) {
                throw .spaced(pair: String(pair), written: parts.map(trimmed).joined(separator: "="))
            }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                let why =
                    pair.isEmpty ? "is empty (a stray comma)"
                    : parts.count < 2 ? "has no '='" : parts[0].isEmpty ? "has no key before '='" : "has no value after '='"
                throw .malformed(pair: String(pair), why: why)
            }
            let key = String(parts[0])
            if let value = labels[key] { throw .repeated(key: key, first: "\(key)=\(value)", second: String(pair)) }
            labels[key] = String(parts[1])
        }
        return labels
    }
}
