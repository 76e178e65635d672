/// A parsed store URL: `scheme://[user[:password]@]host[:port][,host[:port]…][/namespace][?option=value&…]`.
///
/// The scheme selects the backend (`memory`, `zookeeper`, `etcd`, `etcds`); the path is the
/// namespace every key lives under; options are backend-specific (`ttl=5s`, …). Parsing checks
/// the shape, and the `host:port` entries of the schemes with a well-known port
/// (``defaultPorts``); each backend checks its own options and says which it knows.
/// The password is never part of ``description``.
public struct StoreURL: Sendable, Hashable, CustomStringConvertible {
    /// Lower-cased scheme, for example `zookeeper`.
    public var scheme: String
    /// `host:port` entries in the order given (may be empty, as for `memory://`). For a scheme
    /// in ``defaultPorts`` each is checked and has its port (the default when it named none).
    public var hosts: [String]
    /// The namespace (percent-decoded and validated like a key); ``Key/root`` when absent.
    public var namespace: Key
    public var user: String?
    public var password: String?
    /// Query options, percent-decoded, in the order given.
    public var options: [(name: String, value: String)]

    /// Parses `text`.
    /// - Throws: `invalidConfiguration` naming what is wrong and how a URL should look.
    public init(_ text: String) throws(CoordinationError) {
        let shape = "expected scheme://host[:port][,host…][/namespace][?option=value]"
        // A space or newline at either end comes from quoting or a pasted line, never from a
        // URL: taken as part of the namespace (`/ns `), it would name another one, invisibly.
        if let edge = [text.first, text.last].compactMap({ $0 }).first(where: \.isWhitespace) {
            let what = edge.isNewline ? "a line break" : "a space"
            throw CoordinationError(.invalidConfiguration, "store URL '\(StoreURL.redacted(text))' begins or ends with \(what); remove it")
        }
        guard let schemeEnd = text.firstRange(of: "://") else {
            // `etcd:/host` or `memory:` has a scheme, short of its '//': "no scheme" misled.
            if let colon = text.firstIndex(of: ":"), let first = text.first, first.isLetter,
                text[..<colon].lowercased().unicodeScalars.allSatisfy(StoreURL.isSchemeCharacter),
                [nil, "/"].contains(text[text.index(after: colon)...].first)
            {
                let scheme = text[..<colon].lowercased()
                throw CoordinationError(
                    .invalidConfiguration,
                    "store URL '\(StoreURL.redacted(text))' lacks the '//' after '\(scheme):'; write \(scheme)://…, \(shape)")
            }
            let fix = StoreURL.schemeSuggestion(for: text).map { "write \($0); " } ?? ""
            throw CoordinationError(.invalidConfiguration, "store URL '\(StoreURL.redacted(text))' has no scheme; \(fix)\(shape)")
        }
        let scheme = String(text[..<schemeEnd.lowerBound]).lowercased()
        guard !scheme.isEmpty, scheme.unicodeScalars.allSatisfy(StoreURL.isSchemeCharacter) else {
            throw CoordinationError(.invalidConfiguration, "store URL '\(StoreURL.redacted(text))' has a malformed scheme; \(shape)")
        }
        self.scheme = scheme
        var rest = text[schemeEnd.upperBound...]
        try StoreURL.refuseUnescapedCredentials(rest, scheme: scheme)

        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        if rest.contains("#") {
            throw CoordinationError(.invalidConfiguration, "store URL '\(StoreURL.redacted(text))' must not contain a fragment ('#')")
        }
        var authority = rest
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[slash...]
        }
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = try StoreURL.decode(userInfo[..<colon], in: text)
                password = try StoreURL.decode(userInfo[userInfo.index(after: colon)...], in: text)
            } else {
                user = try StoreURL.decode(userInfo, in: text)
            }
        }
        hosts = authority.isEmpty ? [] : authority.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if scheme != "memory", let empty = hosts.firstIndex(of: "") {
            throw CoordinationError(.invalidConfiguration, StoreURL.emptyHostProblem(in: text, authority: authority, hosts: hosts, at: empty))
        }
        for host in hosts where host.isEmpty || host.contains(where: { $0 == " " || $0 == "\t" }) {
            // memory:// names a store, not hosts.
            let what = scheme == "memory" ? "store name" : "host"
            let fix = scheme == "memory" ? "a store name has no spaces or commas, as in memory://tests" : "list hosts as h1:port,h2:port"
            throw CoordinationError(
                .invalidConfiguration, "store URL '\(StoreURL.redacted(text))' has an empty or malformed \(what) in '\(authority)'; \(fix)")
        }
        if let defaultPort = StoreURL.defaultPorts[scheme] {
            do {
                hosts = try HostPort.normalized(hosts, defaultPort: defaultPort)
            } catch {
                throw CoordinationError(.invalidConfiguration, "store URL '\(StoreURL.redacted(text))': \(error.message)")
            }
        }

        if let defaultPort = StoreURL.defaultPorts[scheme], let misplaced = StoreURL.hostsInNamespace(path, defaultPort: defaultPort) {
            let writtenAuthority = rest[..<(rest.firstIndex(of: "/") ?? rest.endIndex)]
            let meant =
                "\(scheme)://\(writtenAuthority),\(misplaced.hosts.joined(separator: ","))\(misplaced.namespace == "/" ? "" : misplaced.namespace)"
                + (query.isEmpty ? "" : "?\(query)")
            throw CoordinationError(
                .invalidConfiguration,
                "store URL '\(StoreURL.redacted(text))' has hosts after its namespace ('\(StoreURL.redacted(String(path)))'): every host comes first, then the namespace, once; write \(StoreURL.redacted(meant))")
        }
        let decodedPath = try StoreURL.decode(path, in: text)
        if decodedPath.isEmpty || decodedPath == "/" {
            namespace = .root
        } else {
            if let problem = Key.problem(with: decodedPath, limit: CoordinationLimits.maxNamespaceBytes) {
                throw CoordinationError(
                    .invalidConfiguration, "store URL '\(StoreURL.redacted(text))' has an invalid namespace '\(StoreURL.redacted(decodedPath))': \(problem)")
            }
            namespace = Key(unchecked: decodedPath)
            if let problem = CoordinationLimits.namespaceProblem(namespace) {
                throw CoordinationError(
                    .invalidConfiguration, "store URL '\(StoreURL.redacted(text))' has an invalid namespace '\(StoreURL.redacted(decodedPath))': \(problem)")
            }
        }

        options = []
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try StoreURL.decode(parts[0], in: text)
            let value = parts.count > 1 ? try StoreURL.decode(parts[1], in: text) : ""
            // Which one would count is a guess the reader of the URL should not have to make.
            if options.contains(where: { $0.name == name }) {
                throw CoordinationError(.invalidConfiguration, "store URL '\(StoreURL.redacted(text))' gives option '\(name)' twice; give it once")
            }
            options.append((name, value))
        }
    }

    /// The hosts a URL's path holds after commas, and the namespace before them: a host list
    /// split by its namespace (`zookeeper://h1:2181/app,h2:2181`), or a ZooKeeper connect string
    /// with the chroot after every host (`…/app,h2:2181/app`). `nil` unless every entry after a
    /// comma starts with a host and a port: a namespace such as `/a,b` may be meant.
    static func hostsInNamespace(_ path: Substring, defaultPort: Int) -> (hosts: [String], namespace: Substring)? {
        let entries = path.split(separator: ",", omittingEmptySubsequences: false)
        guard entries.count > 1 else { return nil }
        var hosts: [String] = []
        for entry in entries.dropFirst() {
            let host = entry.prefix { $0 != "/" }
            guard host.contains(":"), let parsed = try? HostPort(String(host), defaultPort: defaultPort) else { return nil }
            hosts.append(parsed.description)
        }
        return (hosts, entries[0])
    }

    /// The well-known client port of each scheme whose hosts are servers: a host without a port
    /// gets it. (`memory://` names a store, not a server, and has none.)
    public static let defaultPorts: [String: Int] = ["zookeeper": 2181, "etcd": 2379, "etcds": 2379]

    /// The URL meant by `text`, which has no scheme (`127.0.0.1:2379`, `localhost:2181/app`):
    /// `etcd://…` when its ports are all etcd's, `zookeeper://…` when all ZooKeeper's, both forms
    /// otherwise; `nil` when `text` with a scheme still would not parse (then it was not a host
    /// list missing its scheme). The password, if any, is redacted.
    static func schemeSuggestion(for text: String) -> String? {
        let authority = text.prefix { $0 != "/" && $0 != "?" }
        let hosts = authority.split(separator: "@").last.map { $0.split(separator: ",") } ?? []
        let ports = Set(hosts.map { host in host.lastIndex(of: ":").map { Int(host[host.index(after: $0)...]) } ?? nil })
        let schemes: [String] =
            switch ports {
            case [2379]: ["etcd"]
            case [2181]: ["zookeeper"]
            default: ["zookeeper", "etcd"]
            }
        let candidates = schemes.map { $0 + "://" + text }
        guard !hosts.isEmpty, candidates.allSatisfy({ (try? StoreURL($0)) != nil }) else { return nil }
        return candidates.map(redacted).joined(separator: " or ")
    }

    private static func isSchemeCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "0"..."9", "+", "-", ".": true
        default: false
        }
    }

    /// The last value given for option `name`.
    public func option(_ name: String) -> String? {
        options.last { $0.name == name }?.value
    }

    /// Option `name` as a duration (`500ms`, `5s`, `2m`, a bare number is seconds).
    public func durationOption(_ name: String) throws(CoordinationError) -> Duration? {
        guard let text = option(name) else { return nil }
        switch DurationText.positive(text) {
        case .success(let duration): return duration
        case .failure(let problem): throw CoordinationError(.invalidConfiguration, "store URL option \(name)=\(text) \(problem)")
        }
    }

    /// Option `name` as a session TTL: a duration within ``CoordinationLimits/sessionTTLRange``.
    public func sessionTTLOption(_ name: String) throws(CoordinationError) -> Duration? {
        guard let ttl = try durationOption(name) else { return nil }
        if let problem = CoordinationLimits.sessionTTLProblem(ttl) {
            throw CoordinationError(.invalidConfiguration, "store URL option \(name)=\(option(name) ?? "") \(problem)")
        }
        return ttl
    }

    /// Throws when an option is not one of `known`, naming it and listing the known ones.
    public func requireOptions(in known: [String]) throws(CoordinationError) {
        for (name, _) in options where !known.contains(name) {
            let list = known.isEmpty ? "none" : known.joined(separator: ", ")
            throw CoordinationError(
                .invalidConfiguration, "unknown option '\(name)' for \(scheme):// store URLs; known options: \(list)")
        }
    }

    /// The URL with the password replaced by `***`: safe to log and print.
    public var description: String {
        var text = scheme + "://"
        if let user {
            text += user
            if password != nil { text += ":***" }
            text += "@"
        }
        text += hosts.joined(separator: ",")
        if !namespace.isRoot { text += namespace.path }
        if !options.isEmpty {
            text += "?" + options.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        }
        return text
    }

    public static func == (lhs: StoreURL, rhs: StoreURL) -> Bool {
        lhs.scheme == rhs.scheme && lhs.hosts == rhs.hosts && lhs.namespace == rhs.namespace
            && lhs.user == rhs.user && lhs.password == rhs.password
            && lhs.options.map(\.name) == rhs.options.map(\.name) && lhs.options.map(\.value) == rhs.options.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(scheme)
        hasher.combine(hosts)
        hasher.combine(namespace)
    }

    /// A password holding `/`, `?` or `#` ends the host part early (`etcd://u:pa/ss@h`): what
    /// follows would be read as a host with the password's start for a port, as a namespace or
    /// as an option, and quoted in an error. So an `@` past the host part (in the path, or in an
    /// option's name) is refused, quoting nothing before the last `@`. An `@` meant for a
    /// namespace is written `%40`; an option's value may hold one (a file's path).
    private static func refuseUnescapedCredentials(_ rest: Substring, scheme: String) throws(CoordinationError) {
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let queryStart = rest[authorityEnd...].firstIndex(of: "?") ?? rest.endIndex
        let path = rest[authorityEnd..<queryStart]
        let optionNames = rest[queryStart...].dropFirst().split(separator: "&").map { $0.prefix { $0 != "=" } }
        guard path.contains("@") || optionNames.contains(where: { $0.contains("@") }), let lastAt = rest.lastIndex(of: "@") else {
            return
        }
        throw CoordinationError(
            .invalidConfiguration,
            "store URL '\(scheme)://***\(rest[lastAt...])' has an '@' after its host part: if it ends a user and password, "
                + "percent-encode any '/', '?' or '#' in them (%2F, %3F, %23), or give the password with --password-file or "
                + "COORD_PASSWORD; if it belongs to the namespace, write it as %40")
    }

    /// An empty entry in a host list (`h1:2181,,h2:2181`, a comma at either end): which one it is,
    /// and the URL without it. "Empty or malformed host" left the user to find it.
    static func emptyHostProblem(in text: String, authority: Substring, hosts: [String], at index: Int) -> String {
        let shown = redacted(text)
        let position = index == 0 ? "a comma at the start" : index == hosts.count - 1 ? "a comma at the end" : "two commas in a row"
        let listed = hosts.filter { !$0.isEmpty }
        var fix = "list hosts as h1:port,h2:port"
        if !listed.isEmpty, let range = shown.range(of: authority) {
            fix = "remove the extra comma: " + shown.replacingCharacters(in: range, with: listed.joined(separator: ","))
        }
        return "store URL '\(shown)' has an empty host (\(position): host \(index + 1) of \(hosts.count) in '\(authority)'); \(fix)"
    }

    /// `text` with every `user:password@` password replaced by `***`, for messages about a URL
    /// that did not parse (so it may have no scheme, or a typo anywhere): whatever lies between a
    /// `:` and the next `@`, with no `/` between them, is taken for a password.
    public static func redacted(_ text: String) -> String {
        var output = ""
        for character in text {
            if character == "@", let colon = output.lastIndex(of: ":"), !output[colon...].contains("/") {
                output = String(output[...colon]) + "***"
            }
            output.append(character)
        }
        return output
    }

    private static func decode(_ part: Substring, in text: String) throws(CoordinationError) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(part.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard iterator.count >= 2,
                    let high = hexValue(iterator[iterator.startIndex]),
                    let low = hexValue(iterator[iterator.startIndex + 1])
                else {
                    throw CoordinationError(.invalidConfiguration, "store URL '\(redacted(text))' has a malformed percent-escape")
                }
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw CoordinationError(.invalidConfiguration, "store URL '\(redacted(text))' decodes to invalid UTF-8")
        }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Durations written for people: `250ms`, `5s`, `1.5s`, `2m`, `1h`, `1d`; a bare number is seconds.
public enum DurationText {
    /// A duration of zero or more, at most a century; `nil` for anything else.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: " ")
        let unit = units.first { trimmed.hasSuffix($0.0) }
        guard let value = decimal(trimmed.dropLast(unit?.0.count ?? 0)) else { return nil }
        // 99999999999999999999d would not fit a Duration (converting it traps); a century is a mistake anyway.
        let milliseconds = (value * (unit?.1 ?? 1) * 1000).rounded()
        guard milliseconds <= longestMilliseconds else { return nil }
        return .milliseconds(Int64(milliseconds))
    }

    private static let longestMilliseconds = 100 * 366 * 86_400_000.0

    /// Digits with at most one point between digits (`5`, `1.5`): what people write. `Double`
    /// alone also took `0x10`, `1e3`, `+5` and `inf`, which nobody means as a duration.
    private static func decimal(_ text: Substring) -> Double? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let digits = { (part: Substring) in !part.isEmpty && part.allSatisfy { ("0"..."9").contains($0) } }
        // Not checked finite: 400 digits are infinity, which the century's limit refuses by name.
        guard parts.allSatisfy(digits) else { return nil }
        return Double(text)
    }

    /// Each unit and its seconds, `ms` before `s` (both end in `s`).
    private static let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]

    /// How to write a duration, for the end of a message.
    public static let forms = "write one number and one unit (ms, s, m, h or d; none is seconds), like 500ms, 30s, 90m or 1d"

    /// A positive duration (at most a century), or what is wrong with `text`, worded to follow it
    /// in a message: `"--every 1h30m " + problem` reads "--every 1h30m is not a duration; write
    /// one number and one unit … (for 1h30m write 90m)".
    public static func positive(_ text: String) -> Result<Duration, Problem> {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        let trimmed = String(text.drop(while: blank).reversed().drop(while: blank).reversed())
        if isNegativeNumber(trimmed) { return .failure(Problem("is negative; \(forms)")) }
        // An option taking the next word whatever it is, its value left out, took the next option.
        if trimmed.hasPrefix("-") { return .failure(Problem("is an option's spelling, not a duration: was the value left out? \(forms)")) }
        if let duration = parse(trimmed) {
            return duration > .zero ? .success(duration) : .failure(Problem("is not positive; \(forms)"))
        }
        // A number and a unit that parse would take, but for their size.
        let unit = units.first { trimmed.hasSuffix($0.0) }?.0 ?? ""
        if let value = decimal(trimmed.dropLast(unit.count)), value > 0 {
            return .failure(Problem("is more than 100 years; \(forms)"))
        }
        // Units between numbers (1h30m): say that one unit is taken, and how to write it.
        let parts = trimmed.drop { !$0.isLetter }.split { !$0.isLetter }
        let compound = parts.count > 1 && parts.allSatisfy { part in units.contains { $0.0 == part } } && trimmed.last?.isLetter == true
        // A number Swift reads but people do not write for a time (0x10, 1e3, +5, .5, inf).
        let otherNumber = Double(trimmed.dropLast(unit.count)) != nil
        let hint = compound ? " (for 1h30m write 90m)" : otherNumber ? " (the number in digits, with a point for a fraction: 1.5s)" : ""
        return .failure(Problem("is not a duration; \(forms)\(hint)"))
    }

    /// Whether `text` (blanks before it aside) is a negative number, with or without a unit: a
    /// `-` then a digit or a point. `--json` or `--` is no number but an option's spelling.
    public static func isNegativeNumber(_ text: some StringProtocol) -> Bool {
        let trimmed = text.drop { $0 == " " || $0 == "\t" }
        guard trimmed.first == "-", let next = trimmed.dropFirst().first else { return false }
        return next.isNumber || next == "."
    }

    /// What is wrong with a duration's text; see ``positive(_:)``.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// `1.5s`, `250ms`, `2m`, `6h`, `1d`: the inverse of ``parse(_:)`` for display.
    public static func format(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms % 86_400_000 == 0 && ms >= 86_400_000 { return "\(ms / 86_400_000)d" }
        if ms % 3_600_000 == 0 && ms >= 3_600_000 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0 && ms >= 60_000 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        if ms < 1000 { return "\(ms)ms" }
        return "\(Double(ms) / 1000)s"
    }
}

extension String {
    fileprivate func trimmingCharacters(in character: Character) -> Substring {
        var slice = self[...]
        while slice.first == character { slice = slice.dropFirst() }
        while slice.last == character { slice = slice.dropLast() }
        return slice
    }
}
