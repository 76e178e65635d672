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
    }

    /// The labels of `pairs`, each split at its first `=` (a value may hold more).
    package static func labels(_ pairs: some Sequence<some StringProtocol>) throws(Problem) -> [String: String] {
        var labels: [String: String] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                let why = parts.count < 2 ? "has no '='" : parts[0].isEmpty ? "has no key before '='" : "has no value after '='"
                throw .malformed(pair: String(pair), why: why)
            }
            let key = String(parts[0])
            if let value = labels[key] { throw .repeated(key: key, first: "\(key)=\(value)", second: String(pair)) }
            labels[key] = String(parts[1])
        }
        return labels
    }
}
