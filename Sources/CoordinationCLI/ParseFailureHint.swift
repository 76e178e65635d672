import ArgumentParser

/// Plainer words for two usage errors whose argument-parser wording misleads: a misspelt command
/// (`coord kv gett /a` is "Unexpected argument 'gett'", `coord job ad x --command true` is
/// "Unknown option '--command'") and a negative value written after a space
/// (`--session-ttl -5s` is "Missing value for '--session-ttl'"). Consulted only once parsing
/// has failed, so a command line that parses is never second-guessed.
enum ParseFailureHint {
    /// The one line to print instead of argument-parser's, or `nil` to keep its own.
    /// - Parameter message: argument-parser's own message for the failure.
    static func line(for arguments: [String], message: String, root: any ParsableCommand.Type = Coord.self) -> String? {
        unknownCommand(in: arguments, root: root) ?? negativeValue(in: arguments, message: message)
    }

    /// The first word where a command name is due that names none, with the commands there are.
    static func unknownCommand(in arguments: [String], root: any ParsableCommand.Type) -> String? {
        var command = root
        var path = [name(of: root)]
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if word == "--" { return nil }
            if word.hasPrefix("-") {
                // What follows an option may be its value; it is read as a command only when it names one.
                if !word.contains("="), index < arguments.count, subcommand(arguments[index], of: command) == nil { index += 1 }
                continue
            }
            let subcommands = command.configuration.subcommands
            if subcommands.isEmpty { return nil }
            guard let next = subcommand(word, of: command) else {
                let shown = subcommands.filter { $0.configuration.shouldDisplay }.map(name(of:))
                let guess = Spelling.nearest(to: word, among: shown).map { " (did you mean '\($0)'?)" } ?? ""
                let at = path.joined(separator: " ")
                return "unknown command '\(word)' for \(at)\(guess); the commands: \(shown.joined(separator: ", ")) (see \(at) --help)"
            }
            command = next
            path.append(word)
        }
        return nil
    }

    /// An option followed by a negative number or duration, which argument-parser reads as
    /// another option, when that option's missing value is what failed.
    static func negativeValue(in arguments: [String], message: String) -> String? {
        for (index, word) in arguments.enumerated().dropLast() where word.hasPrefix("--") && !word.contains("=") {
            // argument-parser names the option with its value's name: "Missing value for '--session-ttl <duration>'".
            guard message.contains("Missing value for '\(word)'") || message.contains("Missing value for '\(word) ") else { continue }
            let value = arguments[index + 1]
            guard value.count > 1, value.hasPrefix("-"), value.dropFirst().first?.isNumber == true else { continue }
            return "\(word) \(value): a value starting with '-' reads as an option; write \(word)=\(value)"
        }
        return nil
    }

    private static func subcommand(_ word: String, of command: any ParsableCommand.Type) -> (any ParsableCommand.Type)? {
        command.configuration.subcommands.first { name(of: $0) == word || $0.configuration.aliases.contains(word) }
    }

    private static func name(of command: any ParsableCommand.Type) -> String {
        command.configuration.commandName ?? command._commandName
    }
}
