import ArgumentParser
import Coordination

/// Plainer words for usage errors whose argument-parser wording misleads: a misspelt command
/// (`coord kv gett /a` is "Unexpected argument 'gett'", `coord job ad x --command true` is
/// "Unknown option '--command'"), a negative value written after a space
/// (`worker --keep-finished -1d` is "Missing value for '--keep-finished'"), and a value left out
/// of an option that takes any next word (`lock x --session-ttl -- true` is "Unexpected argument
/// 'true'"). Consulted only once parsing has failed, so a command line that parses is never
/// second-guessed.
enum ParseFailureHint {
    /// The one line to print instead of argument-parser's, or `nil` to keep its own.
    /// - Parameter message: argument-parser's own message for the failure.
    static func line(for arguments: [String], message: String, root: any ParsableCommand.Type = Coord.self) -> String? {
        if let (line, index) = unknownCommand(in: arguments, root: root), isAbout(word: index, in: arguments, message) { return line }
        return negativeValue(in: arguments, message: message) ?? valueLeftOut(in: arguments, message: message)
            ?? missingTerminator(in: arguments, message: message, root: root)
    }

    /// The options that take the next word as their value whatever it is (so that a negative
    /// number is refused by name, not read as an option): with the value left out
    /// (`lock x --session-ttl -- true`) they take `--` or the next option, and argument-parser
    /// then finds a word it did not expect ("Unexpected argument 'true'").
    static let takingAnyNextWord: Set = ["--session-ttl", "--timeout", "--grace", "--duration"]

    /// One of ``takingAnyNextWord`` followed by an option's spelling, not a negative number,
    /// when an unexpected word is what failed.
    static func valueLeftOut(in arguments: [String], message: String) -> String? {
        guard message.contains("nexpected argument") else { return nil }
        for (index, word) in arguments.enumerated().dropLast() where takingAnyNextWord.contains(word) {
            let next = arguments[index + 1]
            guard next.hasPrefix("-"), !DurationText.isNegativeNumber(next) else { continue }
            return "\(word) has no value: it took '\(next)' for one; give the value right after it, such as \(word) 10s"
        }
        return nil
    }

    /// `coord lock deploy ./deploy.sh` ("2 unexpected arguments"): the command goes after `--`
    /// (for `lock`, `elect` and `members --join`).
    static func missingTerminator(in arguments: [String], message: String, root: any ParsableCommand.Type = Coord.self) -> String? {
        guard message.contains("nexpected argument"), !arguments.contains("--") else { return nil }
        // The command's word: the first that is neither an option nor an option's value.
        var index = 0
        while index < arguments.count, arguments[index].hasPrefix("-") {
            index += 1
            if !arguments[index - 1].contains("="), index < arguments.count, subcommand(arguments[index], of: root) == nil { index += 1 }
        }
        guard index < arguments.count, ["lock", "elect", "members"].contains(arguments[index]) else { return nil }
        let held = arguments[index]
        if held == "members" && !arguments.contains(where: { $0 == "--join" || $0.hasPrefix("--join=") }) { return nil }
        // Then its name and options (each taking a value but these flags), in any order, and the
        // first other word starts the command.
        let flags: Set = ["--watch", "--json"]
        var head = Array(arguments[...index])
        var named = false
        index += 1
        while index < arguments.count {
            let word = arguments[index]
            if word.hasPrefix("-") {
                let takesValue = !word.contains("=") && !flags.contains(word)
                head += arguments[index..<min(arguments.count, index + (takesValue ? 2 : 1))]
                index += takesValue ? 2 : 1
            } else if !named {
                head.append(word)
                named = true
                index += 1
            } else {
                break
            }
        }
        guard named, index < arguments.count else { return nil }
        let fixed = ["coord"] + head + ["--"] + arguments[index...]
        return "the command that coord \(held) runs goes after --: \(fixed.joined(separator: " "))"
    }

    /// Whether argument-parser's failure is the unknown command at `index`: it names that word as
    /// unexpected, or an option after it (read against the wrong command). An unknown option
    /// before it (`coord --yes kvv get`) is the failure argument-parser names, and stays so.
    static func isAbout(word index: Int, in arguments: [String], _ message: String) -> Bool {
        // "Unexpected argument 'gett'", or "2 unexpected arguments: 'gett', '/a'".
        if message.contains("nexpected argument"), message.contains("'\(arguments[index])'") { return true }
        guard let quoted = message.split(separator: "'", omittingEmptySubsequences: false).dropFirst().first,
            message.hasPrefix("Unknown option")
        else { return false }
        let option = quoted.split(separator: " ").first.map(String.init) ?? ""
        return arguments[(index + 1)...].contains { $0 == option || $0.hasPrefix(option + "=") }
    }

    /// The first word where a command name is due that names none, with the commands there are,
    /// and where it is among the arguments.
    static func unknownCommand(in arguments: [String], root: any ParsableCommand.Type) -> (line: String, index: Int)? {
        var command = root
        var parent: (any ParsableCommand.Type)?
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
            if subcommands.isEmpty {
                return parent.flatMap { commandOfNamesake(word, for: command, among: $0, at: path) }.map { ($0, index - 1) }
            }
            guard let next = subcommand(word, of: command) else {
                let shown = subcommands.filter { $0.configuration.shouldDisplay }.map(name(of:))
                let guess = Spelling.nearest(to: word, among: shown).map { " (did you mean '\($0)'?)" } ?? ""
                let at = path.joined(separator: " ")
                return ("unknown command '\(word)' for \(at)\(guess); the commands: \(shown.joined(separator: ", ")) (see \(at) --help)", index - 1)
            }
            parent = command
            command = next
            path.append(word)
        }
        return nil
    }

    /// `coord jobs add backup …`: a command that takes no command, given one of its namesake's
    /// (the same name but for a final s: `job` for `jobs`), which was surely meant.
    static func commandOfNamesake(
        _ word: String, for command: any ParsableCommand.Type, among parent: any ParsableCommand.Type, at path: [String]
    ) -> String? {
        let named = name(of: command)
        let namesakes = named.hasSuffix("s") ? [String(named.dropLast()), named + "s"] : [named + "s"]
        guard let namesake = parent.configuration.subcommands.first(where: { namesakes.contains(name(of: $0)) }),
            subcommand(word, of: namesake) != nil
        else { return nil }
        let meant = (path.dropLast() + [name(of: namesake)]).joined(separator: " ")
        return "\(path.joined(separator: " ")) takes no command '\(word)'; did you mean \(meant) \(word)? (see \(meant) --help)"
    }

    /// `coord help jbos`: argument-parser's help command prints the root's help for a topic that
    /// names no command, status 0, so a misspelt one reads as if it were documented there. The
    /// words after `help` are a command path, refused as a misspelt command is.
    static func unknownHelpTopic(in arguments: [String], root: any ParsableCommand.Type = Coord.self) -> String? {
        let words = arguments.prefix { $0 != "--" }
        guard let help = words.firstIndex(of: "help") else { return nil }
        let topic = words[(help + 1)...].filter { !$0.hasPrefix("-") }
        return unknownCommand(in: Array(topic), root: root)?.line
    }

    /// `coord lock -ahoy -- ./deploy.sh`: argument-parser reads `-ahoy` as `-a -h -o -y` and
    /// prints help, status 0, and the command never runs. A help request that no word asked for
    /// in full (`-h`, `-help`, `--help`, `help`) is that mistake; the word is named instead.
    static func helpAmongLetters(in arguments: [String]) -> String? {
        let words = arguments.prefix { $0 != "--" }
        guard !words.contains(where: { ["-h", "-help", "--help", "help"].contains($0) }),
            let word = words.first(where: { $0.hasPrefix("-") && !$0.hasPrefix("--") && $0.count > 2 && $0.contains("h") })
        else { return nil }
        let letters = word.dropFirst().map { "-\($0)" }.joined(separator: " ")
        return "\(word) was read as the options \(letters), and -h asks for help: a name or value cannot start with '-' here"
    }

    /// An option followed by a negative number or duration, which argument-parser reads as
    /// another option, when that option's missing value is what failed.
    static func negativeValue(in arguments: [String], message: String) -> String? {
        for (index, word) in arguments.enumerated().dropLast() where word.hasPrefix("--") && !word.contains("=") {
            // argument-parser names the option with its value's name: "Missing value for '--keep-finished <d|forever>'".
            guard message.contains("Missing value for '\(word)'") || message.contains("Missing value for '\(word) ") else { continue }
            let value = arguments[index + 1]
            guard DurationText.isNegativeNumber(value) else { continue }
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
