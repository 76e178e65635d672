/// A value for `kv put`, `kv set` or `kv create` that starts with '-': argument-parser reads it
/// as options, so `coord kv put /a -ahoy` printed help (the `h`) and exited 0 having written
/// nothing, and `coord kv put /offset -5` said "Unknown option '-5'". Found before parsing, and
/// refused with the form that works.
enum OptionLikeValue {
    /// The one line to print (status 64), or `nil` when no value reads as options.
    static func problem(in arguments: [String]) -> String? {
        guard let kv = arguments.indices.dropLast().first(where: { arguments[$0] == "kv" }),
            ["put", "set", "create"].contains(arguments[kv + 1]),
            arguments.contains(where: isOptionLike),
            value(in: arguments) == nil
        else { return nil }
        let placeholder = "coord-option-like-value"
        for index in arguments.indices.dropFirst(kv + 2) {
            let word = arguments[index]
            if word == "--" { break }
            guard isOptionLike(word) else { continue }
            var replaced = arguments
            replaced[index] = placeholder
            guard value(in: replaced) == placeholder else { continue }
            var fixed = arguments
            fixed.remove(at: index)
            let command = (["coord"] + fixed + ["--", word]).joined(separator: " ")
            return "\(word) was read as options, not as the value: put -- before a value that starts with '-': \(command)"
        }
        return nil
    }

    /// One dash and more: these commands have no short options, and `-h` alone still asks for help.
    private static func isOptionLike(_ word: String) -> Bool {
        word.hasPrefix("-") && !word.hasPrefix("--") && word.count > 1 && !["-h", "-help"].contains(word)
    }

    /// The value the command line gives `kv put`, `set` or `create`, if it parses as one of them.
    private static func value(in arguments: [String]) -> String? {
        switch try? Coord.parseAsRoot(arguments) {
        case let put as KVPut: put.value
        case let set as KVSet: set.value
        case let create as KVCreate: create.value
        default: nil
        }
    }
}
