package import Configuration
import Coordination

/// How the libraries' `init(config:)` initialisers read one setting from a swift-configuration
/// `ConfigReader`: an absent key gives `nil` (the caller's default); a key that is present but
/// unusable (wrong type, out of range, unparseable) throws `invalidConfiguration` naming the key
/// and the reader's providers. The value of a secret never appears in a message.
///
/// The reader's plain getters turn a wrong value into the default without a word, so every read
/// goes through a `required…` getter and only "missing" is treated as absent.
extension ConfigReader {
    /// A string; `isSecret` marks it so for the reader's access reporters as well.
    package func stringSetting(_ key: String, isSecret: Bool = false) throws(CoordinationError) -> String? {
        try text(key, isSecret: isSecret, expecting: "a string")
    }

    /// A whole number of at least `minimum`.
    package func intSetting(_ key: String, minimum: Int) throws(CoordinationError) -> Int? {
        guard let value = try setting(key, expecting: "a whole number", { try $0.requiredInt(forKey: $1) }) else { return nil }
        guard value >= minimum else { throw invalidSetting(key, "must be at least \(minimum), got \(value)") }
        return value
    }

    /// A whole number within `range`.
    package func intSetting(_ key: String, in range: ClosedRange<Int>) throws(CoordinationError) -> Int? {
        guard let value = try intSetting(key, minimum: range.lowerBound) else { return nil }
        guard value <= range.upperBound else {
            throw invalidSetting(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    package func boolSetting(_ key: String) throws(CoordinationError) -> Bool? {
        try setting(key, expecting: "true or false") { try $0.requiredBool(forKey: $1) }
    }

    /// A list of strings (a JSON array; a comma-separated environment variable).
    package func stringListSetting(_ key: String) throws(CoordinationError) -> [String]? {
        try setting(key, expecting: "a list of strings") { try $0.requiredStringArray(forKey: $1) }
    }

    /// A duration written as the store URLs write them: `500ms`, `10s`, `2m` (a bare number is seconds).
    package func durationSetting(_ key: String, allowZero: Bool = false) throws(CoordinationError) -> Duration? {
        guard let text = try text(key, expecting: "a duration such as 10s or 500ms") else { return nil }
        guard let duration = DurationText.parse(text), allowZero || duration > .zero else {
            let kind = allowZero ? "a duration" : "a positive duration"
            throw invalidSetting(key, "is '\(text)', not \(kind) such as 10s or 500ms")
        }
        return duration
    }

    /// A session TTL: a duration within ``CoordinationLimits/sessionTTLRange``.
    package func sessionTTLSetting(_ key: String) throws(CoordinationError) -> Duration? {
        guard let ttl = try durationSetting(key) else { return nil }
        if let problem = CoordinationLimits.sessionTTLProblem(ttl) {
            throw invalidSetting(key, "is \(DurationText.format(ttl)), which \(problem)")
        }
        return ttl
    }

    /// A ``Key``, such as a namespace.
    package func keySetting(_ key: String) throws(CoordinationError) -> Key? {
        guard let text = try text(key, expecting: "a key such as /myapp") else { return nil }
        do {
            return try Key(text)
        } catch {
            throw invalidSetting(key, "is '\(text)', not a valid key: \(error.message)")
        }
    }

    /// The servers, a required, non-empty list of `host:port` entries, each checked as
    /// ``HostPort`` checks it and given `defaultPort` when it names none.
    package func serversSetting(_ key: String, of what: String, defaultPort: Int) throws(CoordinationError) -> [String] {
        guard let servers = try stringListSetting(key) else {
            throw invalidSetting(key, "is required: the \(what) as host:port entries")
        }
        guard !servers.isEmpty, servers.allSatisfy({ !$0.isEmpty }) else {
            throw invalidSetting(key, "must list at least one host:port, got \(servers)")
        }
        do {
            return try HostPort.normalized(servers, defaultPort: defaultPort)
        } catch {
            throw invalidSetting(key, "is refused: \(error.message)")
        }
    }

    /// `username` and the secret `password`, which go together on every backend, as a store
    /// URL's do (``StoreCredentials/problem(user:password:)``): a password needs a user name, and
    /// a user name a password that is not empty.
    package func credentialSettings() throws(CoordinationError) -> (user: String?, password: String?) {
        let user = try stringSetting("username")
        let password = try stringSetting("password", isSecret: true)
        switch StoreCredentials.problem(user: user, password: password) {
        case nil:
            return (user, password)
        case .passwordWithoutUser:
            throw invalidSetting("password", "is set but 'username' is not")
        case .emptyUser:
            throw invalidSetting("username", "is empty; give the user name, or leave out both 'username' and 'password'")
        case .noPassword(let user, let isEmpty):
            throw invalidSetting("password", "is \(isEmpty ? "empty" : "not set"), and user '\(user)' needs one")
        }
    }

    /// `invalidConfiguration` for `key`, with the reader (its key prefix and providers) to say where to look.
    package func invalidSetting(_ key: String, _ problem: String) -> CoordinationError {
        CoordinationError(.invalidConfiguration, "configuration key '\(key)' (\(self)) \(problem)")
    }

    private func text(_ key: String, isSecret: Bool = false, expecting kind: String) throws(CoordinationError) -> String? {
        try setting(key, isSecret: isSecret, expecting: kind) { try $0.requiredString(forKey: $1, isSecret: isSecret) }
    }

    private func setting<Value>(
        _ key: String, isSecret: Bool = false, expecting kind: String,
        _ read: (ConfigReader, ConfigKey) throws -> Value
    ) throws(CoordinationError) -> Value? {
        do {
            return try read(self, ConfigKey(key))
        } catch {
            // swift-configuration's error type is package-internal; its message is the one stable
            // thing to tell "missing" from "present but not convertible" (the defaults tests pin it).
            let message = String(describing: error)
            if message.hasPrefix("Missing required config value") { return nil }
            // Conversion messages name the key and the type, never the value; a provider's own error
            // might quote it, so a secret's is left out.
            throw invalidSetting(key, "must be \(kind)" + (isSecret ? "" : ": \(message)"))
        }
    }
}
