import ArgumentParser
import Coordination
import CoordinationRecipes
import Foundation
import Logging

/// Runs `coord` and turns every failure into one line on stderr and an ``ExitStatus``.
public enum CoordCommandLine {
    /// The process's entry point: readies the process, then runs ``main(_:)`` on the main actor.
    /// Synchronous because an async entry point starts the concurrency runtime first, whose epoll
    /// handle takes descriptor 0 when coord was started with stdin closed.
    public static func start() -> Never {
        StandardDescriptors.openClosedOnes()
        // Before any handler is installed: what coord's parent left ignored.
        _ = InheritedSignals.ignoredAtStart
        IgnoringExec.runIfAsked(CommandLine.arguments)
        Task { @MainActor in await main() }
        dispatchMain()
    }

    /// Parses `arguments` (the process's own when `nil`), runs the command and exits.
    public static func main(_ arguments: [String]? = nil) async -> Never {
        // Libraries that make their own loggers must never write to stdout, where values go.
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = CoordConfiguration.defaultLogLevel
            return handler
        }
        // `coord job add -dash` and `coord kv put /a -dash` are help (-h among the letters) or an unknown option to argument-parser.
        let given = arguments ?? Array(CommandLine.arguments.dropFirst())
        // Before anything reads them: Swift has already replaced each byte that is not UTF-8.
        let raw = arguments.map { $0.map { Array($0.utf8) } } ?? NonUTF8Argument.processArguments
        if let problem = NonUTF8Argument.problem(in: raw) {
            StandardStreams.writeError("coord: " + problem)
            exit(ExitCode.validationFailure.rawValue)
        }
        if let problem = JobOptions.optionLikeIDProblem(in: given) ?? OptionLikeValue.problem(in: given) {
            StandardStreams.writeError("coord: " + problem)
            exit(ExitCode.validationFailure.rawValue)
        }
        let command: any ParsableCommand
        do {
            command = try Coord.parseAsRoot(arguments)
        } catch {
            // Usage errors, --help and --version keep argument-parser's wording and statuses, but
            // for a misspelt command and a negative value after a space, which it words misleadingly.
            if Coord.exitCode(for: error) == .validationFailure,
                let hint = ParseFailureHint.line(
                    for: arguments ?? Array(CommandLine.arguments.dropFirst()), message: Coord.message(for: error))
            {
                StandardStreams.writeError("coord: " + hint)
                exit(ExitCode.validationFailure.rawValue)
            }
            Coord.exit(withError: error)
        }
        // Help that no word asked for in full (argument-parser's own help command, parsed from
        // a name starting with '-': `coord lock -ahoy`) would exit 0 with nothing done.
        if String(reflecting: type(of: command)).hasPrefix("ArgumentParser."),
            let problem = ParseFailureHint.helpAmongLetters(in: given) ?? ParseFailureHint.unknownHelpTopic(in: given)
        {
            StandardStreams.writeError("coord: " + problem)
            exit(ExitCode.validationFailure.rawValue)
        }
        do {
            var command = command
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            exit(ExitStatus.success.rawValue)
        } catch let error as CoordinationError {
            StandardStreams.writeError("coord: " + oneLine(error))
            exit(ExitStatus(error.code).rawValue)
        } catch let error as RecipeError {
            StandardStreams.writeError("coord: " + oneLine(error.description))
            // `coord lock --timeout` gave up waiting: the lock stayed busy.
            if case .notAcquired = error { exit(ExitStatus.notAcquired.rawValue) }
            exit(ExitStatus.lost.rawValue)
        } catch let error as CommandLineProblem {
            StandardStreams.writeError("coord: " + oneLine(error.description))
            exit(ExitCode.validationFailure.rawValue)
        } catch let error where isArgumentParserError(error) {
            // --help on a command group, ExitCode, ValidationError: argument-parser's own handling.
            Coord.exit(withError: error)
        } catch {
            StandardStreams.writeError("coord: " + oneLine(String(describing: error)))
            exit(ExitStatus.failure.rawValue)
        }
    }

    /// Errors that argument-parser throws (some of its types are internal, hence the module test).
    static func isArgumentParserError(_ error: any Error) -> Bool {
        error is ExitCode || error is CleanExit || error is ValidationError
            || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }

    /// The message on a single line, with the backend's detail where it helps diagnose the
    /// server or the connection.
    static func oneLine(_ error: CoordinationError) -> String {
        var text = error.message
        if let detail = error.backendDetail, showsBackendDetail(error.code) { text += " [\(detail)]" }
        return oneLine(text)
    }

    /// Whether a line for `code` ends with the backend's detail. A refusal about the data (no
    /// such key, a version conflict) says all there is in the portable words, and without the
    /// detail it reads the same on every backend, as the contract promises; a server, connection
    /// or credentials problem is diagnosed from the server's own words (rc, HTTP status, curl error).
    static func showsBackendDetail(_ code: CoordinationError.Code) -> Bool {
        switch code {
        case .unavailable, .connectionLoss, .timeout, .sessionExpired, .unauthenticated, .permissionDenied, .unsupported,
            .invalidConfiguration:
            true
        case .noNode, .nodeExists, .versionConflict, .notEmpty, .ephemeralChildren, .invalidKey, .valueTooLarge,
            .transactionTooLarge:
            false
        }
    }

    /// `text` as one line of plain text: line breaks become spaces, and any other control
    /// character is written `\u{…}`, as in a key's message. A value quoted from a URL or a file
    /// (a NUL, an escape sequence) must neither cut the line short nor drive the terminal.
    static func oneLine(_ text: String) -> String {
        var line = ""
        for scalar in text.split(whereSeparator: \.isNewline).joined(separator: " ").unicodeScalars {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                line += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                line.unicodeScalars.append(scalar)
            }
        }
        return line
    }
}
