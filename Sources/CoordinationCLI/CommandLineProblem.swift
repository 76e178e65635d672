import Coordination

/// A mistake in how coord was called that argument-parser cannot see (printed as one line, status 64):
/// a bad value of a command's own option or argument.
struct CommandLineProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension CommandLineProblem {
    /// Runs a check that config and jobs files share on a value typed on the command line. In a
    /// file a bad value is `invalidConfiguration` (status 7); on the command line it is a usage
    /// error (64), with the same message, after `option` when the message does not name it.
    static func checking<T>(_ option: String? = nil, _ check: () throws(CoordinationError) -> T) throws -> T {
        do {
            return try check()
        } catch {
            guard error.code == .invalidConfiguration else { throw error }
            throw CommandLineProblem(option.map { "\($0): \(error.message)" } ?? error.message)
        }
    }
}

/// Values of their own options that several commands take.
enum OptionValue {
    /// A positive duration typed for `option` (`30s`, `500ms`, `2m`); a bad one is a usage error naming the option.
    static func duration(_ text: String?, option: String) throws -> Duration? {
        guard let text else { return nil }
        switch DurationText.positive(text) {
        case .success(let duration): return duration
        case .failure(let problem): throw CommandLineProblem("\(option) \(text) \(problem)")
        }
    }
}
