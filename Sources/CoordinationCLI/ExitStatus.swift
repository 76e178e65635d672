public import Coordination

/// The process exit status for each kind of failure, so that scripts can branch on the outcome
/// without parsing messages. Usage errors keep argument-parser's own status (64), and so does a bad
/// value of a command's own option or argument (``CommandLineProblem``); a bad global setting, store
/// URL, config file or jobs file is ``invalidConfiguration`` (7).
public enum ExitStatus: Int32, CaseIterable, Sendable {
    case success = 0
    case failure = 1
    case notFound = 2
    case alreadyExists = 3
    case versionConflict = 4
    case notEmpty = 5
    case invalidInput = 6
    case invalidConfiguration = 7
    case unsupported = 8
    case unavailable = 9
    case accessDenied = 10
    /// A lock or leadership was lost while its command ran; the command was stopped.
    case lost = 11
    /// `coord lock --timeout` gave up: the lock stayed busy (not a store failure, which is 9).
    case notAcquired = 12
    /// `coord run --until-idle` became idle, but a run ended failed, timed out or abandoned (its
    /// retries spent): scripts waiting for the jobs learn that they did not all succeed.
    case runsFailed = 13

    /// The status for a store error: the same code gives the same status on every backend.
    public init(_ code: CoordinationError.Code) {
        switch code {
        case .noNode: self = .notFound
        case .nodeExists: self = .alreadyExists
        case .versionConflict: self = .versionConflict
        case .notEmpty: self = .notEmpty
        case .invalidKey, .valueTooLarge, .ephemeralChildren, .transactionTooLarge: self = .invalidInput
        case .invalidConfiguration: self = .invalidConfiguration
        case .unsupported: self = .unsupported
        case .sessionExpired, .connectionLoss, .timeout, .unavailable: self = .unavailable
        case .unauthenticated, .permissionDenied: self = .accessDenied
        }
    }

    /// What the status means, for `--help` and the README.
    public var meaning: String {
        switch self {
        case .success: "success"
        case .failure: "any other failure"
        case .notFound: "no such key"
        case .alreadyExists: "the key already exists"
        case .versionConflict: "the key is not at the expected version"
        case .notEmpty: "the key has children"
        case .invalidInput: "bad key or value, or too large"
        case .invalidConfiguration: "bad global setting, store URL, config or jobs file"
        case .unsupported: "the backend cannot do this"
        case .unavailable: "the store cannot be reached; a write's outcome is unknown"
        case .accessDenied: "credentials missing, wrong or not allowed"
        case .lost: "a lock, leadership or membership was lost; the command was stopped"
        case .notAcquired: "the lock was not acquired within --timeout; the command did not run"
        case .runsFailed: "coord run --until-idle: a run ended failed, timed out or abandoned"
        }
    }

    /// The error codes that lead to this status.
    public var codes: [CoordinationError.Code] {
        CoordinationError.Code.allCases.filter { ExitStatus($0) == self }
    }

    /// The table shown in `--help`.
    static var helpTable: String {
        let rows = allCases.map { status in
            let number = String(status.rawValue)
            var row = "  " + number + String(repeating: " ", count: 4 - number.count) + status.meaning
            // One code fits on the line; several go on the next so that help stays within 80 columns.
            switch status.codes.count {
            case 0: break
            case 1: row += " (\(status.codes[0].rawValue))"
            default: row += "\n        " + status.codes.map(\.rawValue).joined(separator: ", ")
            }
            return row
        }
        return (rows + ["  64  usage error: unknown command or option, missing or bad argument or option"])
            .joined(separator: "\n")
    }
}
