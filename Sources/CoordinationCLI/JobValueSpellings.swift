import Coordination
import CoordinationScheduler

/// The words for a job's placement, misfire and overlap policies, as `coord job add` flags and
/// jobs files both take them: the flags' kebab case (`round-robin`, `fire-once-now`) or the
/// stored JSON's camel case (`roundRobin`, `fireOnceNow`). Each error lists the valid words.
enum JobValueSpellings {
    static func strategy(_ text: String) throws(CoordinationError) -> PlacementStrategy {
        guard let strategy = PlacementStrategy(rawValue: camelCase(text)) else {
            throw CoordinationError(.invalidConfiguration, "unknown placement strategy '\(text)'; known: \(strategyNames)")
        }
        return strategy
    }

    static func misfire(_ text: String) throws(CoordinationError) -> MisfirePolicy {
        guard let policy = MisfirePolicy(rawValue: camelCase(text)) else {
            throw CoordinationError(.invalidConfiguration, "unknown misfire policy '\(text)'; known: \(misfireNames)")
        }
        return policy
    }

    static func overlap(_ text: String) throws(CoordinationError) -> OverlapPolicy {
        guard let policy = OverlapPolicy(rawValue: text) else {
            throw CoordinationError(.invalidConfiguration, "unknown overlap policy '\(text)'; known: \(overlapNames)")
        }
        return policy
    }

    static var strategyNames: String { PlacementStrategy.allCases.map { kebabCase($0.rawValue) }.joined(separator: ", ") }
    static var misfireNames: String { MisfirePolicy.allCases.map { kebabCase($0.rawValue) }.joined(separator: ", ") }
    static var overlapNames: String { OverlapPolicy.allCases.map(\.rawValue).joined(separator: ", ") }

    /// `least-loaded` → `leastLoaded`; camel case is left as it is.
    static func camelCase(_ text: String) -> String {
        let parts = text.split(separator: "-")
        guard let first = parts.first else { return text }
        return String(first) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// `leastLoaded` → `least-loaded`.
    static func kebabCase(_ text: String) -> String {
        var name = ""
        for character in text {
            if character.isUppercase { name += "-" + character.lowercased() } else { name.append(character) }
        }
        return name
    }
}
