public import Coordination
import Configuration
import Foundation
public import Logging

/// Everything `coord` reads from flags, the environment and a config file, resolved in one place
/// with the precedence flag > environment > file > default.
///
/// The layers are swift-configuration providers, asked in order; each value remembers its source.
/// Config file keys are camelCase (`store`, `logLevel`); the matching environment variables are
/// `COORD_` + the key in upper snake case (`COORD_STORE`, `COORD_LOG_LEVEL`).
public struct CoordConfiguration: Sendable {
    /// The store URL text (parse it with ``storeURL()``); may hold a password: never print it raw.
    public var store: ConfigurationSetting<String>
    /// The level of the logs written to stderr.
    public var logLevel: ConfigurationSetting<Logger.Level>
    /// The config file that was read, if any.
    public var file: String?
    /// What chose ``file`` (`--config`, `COORD_CONFIG`, or where it was found), or where none was.
    public var fileChosenBy = ""
    /// The settings that refine the store URL (namespace, session TTL, credentials, TLS files),
    /// where one was given; they override what the URL itself says when their source is as strong.
    public var refinements: [Refinement: ConfigurationSetting<String>] = [:]
    /// The password file's contents when it is the password setting that wins (read when the
    /// configuration is resolved, off the cooperative pool), or why it could not be read: an
    /// error only if the password is used.
    var passwordFileContents: Result<String, CoordinationError>?

    /// Settings applied on top of the store URL; each has a config key, an environment variable
    /// (`COORD_` + the key in upper snake case) and, except the password, a flag.
    public enum Refinement: String, CaseIterable, Sendable {
        case namespace, sessionTtl, username, password, passwordFile, tlsCa, tlsCert, tlsKey

        var setting: Setting { Setting(rawValue: rawValue)! }
        var isSecret: Bool { self == .password }
        var isPassword: Bool { self == .password || self == .passwordFile }
    }

    /// The values given on the command line; `nil` where the flag was not given.
    public struct Flags: Sendable {
        public var store: String?
        public var configFile: String?
        public var logLevel: String?
        /// `--namespace`, `--session-ttl`, `--username`, `--password-file`, `--tls-ca`, … There is
        /// no password flag: a command line is visible to every user of the machine.
        public var refinements: [Refinement: String]

        public init(store: String? = nil, configFile: String? = nil, logLevel: String? = nil, refinements: [Refinement: String] = [:]) {
            self.store = store
            self.configFile = configFile
            self.logLevel = logLevel
            self.refinements = refinements
        }
    }

    /// The settings this type resolves: config key, flag and environment variable.
    enum Setting: String, CaseIterable {
        case store, logLevel
        case namespace, sessionTtl, username, password, passwordFile, tlsCa, tlsCert, tlsKey

        /// `logLevel` → `log-level`, `tlsCa` → `tls-ca`.
        private var words: [String] {
            var words: [String] = []
            var current = ""
            for character in rawValue {
                if character.isUppercase, !current.isEmpty {
                    words.append(current)
                    current = ""
                }
                current.append(character.lowercased())
            }
            return words + [current]
        }
        var flag: String { "--" + words.joined(separator: "-") }
        var environmentVariable: String { "COORD_" + words.joined(separator: "_").uppercased() }
    }

    /// The environment variable naming the config file.
    public static let configFileVariable = "COORD_CONFIG"
    public static let defaultStore = "memory://"
    public static let defaultLogLevel = Logger.Level.warning

    /// Resolves the configuration. The password file is not read here but by
    /// ``readPasswordFileIfUsed(stores:)``, once it is known whether the store takes it.
    /// - Parameters:
    ///   - environment: the process environment (injected for tests).
    ///   - currentDirectory: where `./coord.json` is looked for.
    /// - Throws: `invalidConfiguration` naming the file or value and what is wrong with it.
    public static func resolve(
        flags: Flags,
        environment: [String: String],
        currentDirectory: String
    ) async throws(CoordinationError) -> CoordConfiguration {
        let candidates = configFileCandidates(environment: environment, currentDirectory: currentDirectory)
        let (file, chosenBy) = try configFilePath(flags: flags, environment: environment, currentDirectory: currentDirectory)
            ?? (nil, "none found at " + candidates.map(\.path).joined(separator: " or "))
        let layers = try await ConfigurationLayers(flags: flags, environment: environment, file: file)

        let store = try layers.string(for: .store) ?? ConfigurationSetting(defaultStore, from: .builtIn)
        var logLevel = ConfigurationSetting(defaultLogLevel, from: .builtIn)
        if let text = try layers.string(for: .logLevel) {
            guard let level = Logger.Level(rawValue: text.value.lowercased()) else {
                let known = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                throw CoordinationError(
                    .invalidConfiguration,
                    "log level '\(text.value)' from \(text.source) is not one of \(known)")
            }
            logLevel = ConfigurationSetting(level, from: text.source)
        }
        var configuration = CoordConfiguration(store: store, logLevel: logLevel, file: file, fileChosenBy: chosenBy)
        for refinement in Refinement.allCases {
            configuration.refinements[refinement] = try layers.string(for: refinement.setting)
        }
        // A relative path in a config file is the file's neighbour, wherever coord runs.
        for refinement in [Refinement.passwordFile, .tlsCa, .tlsCert, .tlsKey] {
            guard var file = configuration.refinements[refinement], case .file(let configPath, _) = file.source,
                !file.value.hasPrefix("/")
            else { continue }
            file.value = URL(fileURLWithPath: configPath).deletingLastPathComponent().appendingPathComponent(file.value).path
            configuration.refinements[refinement] = file
        }
        return configuration
    }

    /// What stands for the password file's contents while finding out whether it is used.
    private static let passwordStandIn = "\u{1}coord: the password file's contents"

    /// Reads the password file when there is one and refining the store URL (or `stores`, for
    /// `coord migrate`) would use it. Read whatever the store, a pipe such as `/dev/stdin` was
    /// consumed for nothing (a value piped to `kv put` became ""), and a FIFO waited on forever.
    mutating func readPasswordFileIfUsed(stores: [(flag: String, url: StoreURL)]? = nil) async {
        guard let file = refinements[.passwordFile], passwordLoser != .passwordFile, passwordFileContents == nil else { return }
        var probe = self
        probe.passwordFileContents = .success(Self.passwordStandIn)
        let urls = stores.map { (try? probe.refine(stores: $0).urls) ?? [] } ?? [(try? probe.storeURLWithNotes().url)].compactMap { $0 }
        guard urls.contains(where: { $0.password == Self.passwordStandIn }) else { return }
        passwordFileContents = await Self.readPassword(file)
    }

    /// The password file's text without its trailing newlines (how editors and `echo` end files,
    /// never part of a password); a pipe such as a shell's `<(pass show db)` reads too.
    private static func readPassword(_ file: ConfigurationSetting<String>) async -> Result<String, CoordinationError> {
        do {
            var text = String(decoding: try await StandardStreams.readFile(file.value, for: "the password file"), as: UTF8.self)
            while text.last?.isNewline == true { text.removeLast() }
            return .success(text)
        } catch {
            return .failure(problem(file, "password file \(file.value)", "cannot be read: \(error.reason)"))
        }
    }

    /// Of the password and the password file, given both, the one not used: they are one
    /// setting given two ways, and the one from the stronger source wins (a `--password-file`
    /// flag beats `COORD_PASSWORD`; the password itself wins a tie).
    var passwordLoser: Refinement? {
        guard let direct = refinements[.password], let viaFile = refinements[.passwordFile] else { return nil }
        return direct.source.precedence <= viaFile.source.precedence ? .passwordFile : .password
    }

    /// Parses the store URL.
    /// - Throws: `invalidConfiguration`, naming where the URL came from.
    public func storeURL() throws(CoordinationError) -> StoreURL {
        try storeURLWithNotes().url
    }

    /// The store URL with the refinements applied, what the user should hear about a setting
    /// left unapplied (credentials from the environment or a config file that this store does not
    /// take), and why each setting given and not applied was not.
    /// - Throws: `invalidConfiguration`, naming where the URL or the setting came from.
    public func storeURLWithNotes() throws(CoordinationError) -> (url: StoreURL, notes: [String], unapplied: [Refinement: String]) {
        var url: StoreURL
        do {
            url = try StoreURL(store.value)
        } catch {
            var error = error
            error.message += " (from \(store.source))"
            throw error
        }
        var notes: [String] = []
        let unapplied = try refine(&url, notes: &notes)
        return (url, notes, unapplied)
    }

    /// Applies the refinements to `url`; returns why each one given was left unapplied. A bad
    /// value names the setting and where it came from.
    ///
    /// A refinement overrides what the URL itself says only when it comes from a source as
    /// strong as the URL's: a `coord.json` left in the current directory must not send an
    /// explicit `--store etcd://h/prod` (or `COORD_STORE`) to the file's namespace.
    ///
    /// Credentials the store cannot use (any on memory://; a user with no password, or a
    /// password with no user) and TLS files on a store other than etcds:// are a mistake when
    /// named on the command line, and refused; from the environment or a config file they are
    /// often meant for another store, and must not lock this one out: they are left unapplied,
    /// with a note saying so.
    private func refine(_ url: inout StoreURL, notes: inout [String]) throws(CoordinationError) -> [Refinement: String] {
        var unapplied = try refineApplying(&url, notes: &notes)
        // The password and the password file are one setting: the one that lost is left out.
        if let loser = passwordLoser, let winner = refinements[loser == .password ? .passwordFile : .password] {
            let name = loser == .password ? "the password file" : "the password"
            unapplied[loser] = unapplied[loser == .password ? .passwordFile : .password] == nil
                ? "\(name) from \(winner.source) is used instead" : "\(name) from \(winner.source) comes first"
        }
        return unapplied
    }

    private func refineApplying(_ url: inout StoreURL, notes: inout [String]) throws(CoordinationError) -> [Refinement: String] {
        var unapplied: [Refinement: String] = [:]
        let refined = try checkedRefinements(namespace: true)
        var said = Self.said(by: url)
        func applies(_ refinement: Refinement, as name: String? = nil) -> Bool {
            guard let setting = refinements[refinement] else { return false }
            guard !said.contains(name ?? refinement.rawValue) || setting.source.precedence <= store.source.precedence else {
                unapplied[refinement] = "the store URL from \(store.source) says otherwise"
                return false
            }
            return true
        }
        /// A setting the store cannot use: refused from a flag, else a note and left unapplied.
        func leaveOut(_ refinement: Refinement, named name: String, because why: String, briefly: String) throws(CoordinationError) {
            guard let setting = refinements[refinement] else { return }
            if case .flag = setting.source { throw Self.problem(setting, name, why) }
            notes.append("\(name) from \(setting.source) is not used: it \(why)")
            unapplied[refinement] = briefly
        }
        if let namespace = refined.namespace, applies(.namespace) { url.namespace = namespace }
        if let ttl = refined.sessionTTL, applies(.sessionTtl) { url.setSessionTTL(ttl) }
        let password = refined.password
        for (refinement, option) in [(Refinement.tlsCa, "cacert"), (.tlsCert, "cert"), (.tlsKey, "key")] {
            guard let file = refinements[refinement] else { continue }
            guard url.scheme == "etcds" else {
                let why = "applies only to an etcds:// store, not \(url.scheme)://"
                try leaveOut(refinement, named: "TLS file \(file.value)", because: why, briefly: "only etcds:// stores use it")
                continue
            }
            guard applies(refinement, as: option) else { continue }
            url.options.removeAll { $0.name == option }
            url.options.append((name: option, value: file.value))
        }
        if url.scheme == "memory" {
            let why = "applies to ZooKeeper and etcd stores, not memory:// (which takes no credentials)"
            if let user = refined.user, applies(.username) {
                try leaveOut(.username, named: "user '\(user.value)'", because: why, briefly: "memory:// takes no credentials")
            }
            if let password, applies(password.refinement, as: "password") {
                try leaveOut(password.refinement, named: password.name, because: why, briefly: "memory:// takes no credentials")
            }
            return unapplied
        }
        // A user name and a password go together: each is applied only where the other is
        // there too, from the URL or a setting. The URL's password is its user's: a user given
        // in its place takes a password of its own.
        var user = url.user
        var urlPassword = url.password
        var userOverruled = false
        if let given = refined.user, given.value != url.user {
            if applies(.username) {
                try Self.refuseEmptyUser(given)
                user = given.value
                urlPassword = nil
                said.remove("password")  // the URL's password went with its user
            } else {
                userOverruled = true
            }
        }
        var passwordToApply: String?
        if let password, applies(password.refinement, as: "password") {
            let refinement = password.refinement
            if userOverruled, let given = refined.user, password.setting.source.precedence >= given.source.precedence {
                // Given beside a user name the URL overrules, it is that user's password, not the URL user's.
                try leaveOut(
                    refinement, named: password.name,
                    because: "goes with user '\(given.value)' from \(given.source), whom the store URL's user '\(url.user ?? "")' overrules",
                    briefly: "it goes with user '\(given.value)', who is not applied")
            } else if user == nil {
                let fix = "give --username, COORD_USERNAME or 'username' in the config file, or the user in the URL (\(url.scheme)://user@host/…)"
                if case .flag = password.setting.source {
                    throw Self.problem(password.setting, password.name, "needs a user name, and none is given: \(fix)")
                }
                notes.append("\(password.name) from \(password.setting.source) is not used: no user name is given, so coord connects without credentials; to log in, \(fix)")
                unapplied[refinement] = "no user name"
            } else {
                passwordToApply = try password.value.get()
                try Self.refuseEmptyPassword(passwordToApply ?? "", from: password)
            }
        }
        if let given = refined.user, user == given.value, given.value != url.user, passwordToApply == nil && urlPassword == nil {
            let replaced = url.user.map { " (the store URL's password is for its user, '\($0)')" } ?? ""
            let fix = "give the password with --password-file, COORD_PASSWORD or COORD_PASSWORD_FILE, or 'password' in the config file"
            if case .flag = given.source {
                throw Self.problem(given, "user '\(given.value)'", "needs a password, and none is given\(replaced): \(fix)")
            }
            notes.append("user '\(given.value)' from \(given.source) is not used: no password is given for it\(replaced), so coord "
                + (url.user == nil ? "connects without credentials" : "logs in as '\(url.user!)'") + "; to log in as '\(given.value)', \(fix)")
            unapplied[.username] = "no password"
            return unapplied
        }
        url.user = user
        url.password = passwordToApply ?? urlPassword
        return unapplied
    }

    /// What `url` says itself, by refinement name (TLS files by their URL option): a namespace
    /// other than the root, a TTL, a user, a password.
    private static func said(by url: StoreURL) -> Set<String> {
        var said = Set(url.options.map(\.name))
        if !url.namespace.isRoot { said.insert(Refinement.namespace.rawValue) }
        if url.option("ttl") != nil || url.option("sessionTimeout") != nil { said.insert(Refinement.sessionTtl.rawValue) }
        if url.user != nil { said.insert(Refinement.username.rawValue) }
        if url.password != nil { said.insert("password") }
        return said
    }

    /// For a command with two stores (`coord migrate`): each URL of `stores` (named by the flag
    /// that gave it) with the refinements applied where they fit its scheme and the URL does not
    /// give the setting itself: what a URL says wins. The session TTL goes to every URL without
    /// `ttl` or `sessionTimeout`; TLS files to an etcds:// URL without that file; the user to a
    /// ZooKeeper or etcd URL without one; the password to a ZooKeeper or etcd URL that names a
    /// user (its own or the setting's) and no password. The namespace is not applied (the
    /// command refuses or ignores it). A setting that fits neither URL is refused, as it would be
    /// for one store, except a password from the environment or a config file with no user for
    /// it, which is left unapplied with a note, as for one store.
    /// - Throws: `invalidConfiguration` naming the setting and where it came from, never a password.
    public func refine(stores: [(flag: String, url: StoreURL)]) throws(CoordinationError) -> (urls: [StoreURL], notes: [String]) {
        var refined = try checkedRefinements(namespace: false)
        var urls = stores.map(\.url)
        let named = stores.map { "\($0.flag) (\($0.url.scheme)://)" }.joined(separator: " nor ")
        var notes: [String] = []
        /// As for one store: a setting neither store can use is a mistake named on the command
        /// line; from the environment or a config file it is often meant for another store.
        func leaveOut(_ setting: ConfigurationSetting<String>, named name: String, because why: String) throws(CoordinationError) {
            if case .flag = setting.source { throw Self.problem(setting, name, why) }
            notes.append("\(name) from \(setting.source) is not used: it \(why)")
        }
        let authenticating = urls.filter { $0.scheme != "memory" }
        if let user = refined.user {
            if authenticating.isEmpty {
                try leaveOut(user, named: "user '\(user.value)'", because: "applies to ZooKeeper and etcd stores, and neither \(named) is one (memory:// takes no credentials)")
                refined.user = nil
            } else if refined.password == nil, authenticating.contains(where: { $0.user == nil }) {
                // A user name and a password go together: the URLs that would take this user have no password for it.
                try leaveOut(user, named: "user '\(user.value)'", because: "has no password to go with it: give the password with --password-file, COORD_PASSWORD or COORD_PASSWORD_FILE, or 'password' in the config file")
                refined.user = nil
            }
        }
        if let (_, file) = refined.tlsFiles.first, !urls.contains(where: { $0.scheme == "etcds" }) {
            try leaveOut(file, named: "TLS file \(file.value)", because: "applies only to an etcds:// store, and neither \(named) is one")
            refined.tlsFiles = []
        }
        for index in urls.indices {
            if let ttl = refined.sessionTTL, !urls[index].options.contains(where: { $0.name == "ttl" || $0.name == "sessionTimeout" }) {
                urls[index].setSessionTTL(ttl)
            }
            if urls[index].scheme == "etcds" {
                for (option, file) in refined.tlsFiles where urls[index].option(option) == nil {
                    urls[index].options.append((name: option, value: file.value))
                }
            }
            // memory:// takes no credentials.
            if urls[index].scheme != "memory" {
                if urls[index].user == nil, let user = refined.user {
                    try Self.refuseEmptyUser(user)
                    urls[index].user = user.value
                }
                if urls[index].user != nil && urls[index].password == nil, let password = refined.password {
                    let value = try password.value.get()
                    try Self.refuseEmptyPassword(value, from: password)
                    urls[index].password = value
                }
            }
        }
        if let password = refined.password, !urls.filter({ $0.scheme != "memory" }).contains(where: { $0.user != nil }) {
            // As for one store: a mistake to name on the command line; elsewhere often meant for
            // another store, and no reason to refuse these.
            if authenticating.isEmpty {
                let why = "applies to ZooKeeper and etcd stores, and neither \(named) is one (memory:// takes no credentials)"
                if case .flag = password.setting.source { throw Self.problem(password.setting, password.name, why) }
                notes.append("\(password.name) from \(password.setting.source) is not used: it \(why)")
            } else {
                let fix = "give --username, or the user in the URL (etcd://user@host/…)"
                if case .flag = password.setting.source {
                    throw Self.problem(password.setting, password.name, "needs a user name, and neither \(named) names one: \(fix)")
                }
                notes.append(
                    "\(password.name) from \(password.setting.source) is not used: neither \(named) names a user, so coord connects "
                        + "without credentials; to log in, \(fix)")
            }
        }
        return (urls, notes)
    }

    /// Every store that takes credentials refuses an empty password (``StoreURL/requireCredentialsInPairs()``
    /// says why); given by a setting (an empty password file, `"password": ""`), the refusal names
    /// that setting: the store's own refusal named the URL the setting went into and told to
    /// give the password setting that had been given. One check for every backend: etcd took the
    /// empty password and answered "a wrong password" (status 10), or, with auth off, nothing.
    private static func refuseEmptyPassword(_ value: String, from password: Password) throws(CoordinationError) {
        guard value.isEmpty else { return }
        let fix = password.refinement == .passwordFile
            ? "write the password in the file (an empty one is most often not yet written, or a failed command's output)"
            : "give the password itself there"
        throw problem(password.setting, password.name, "is empty, and an empty password is refused on ZooKeeper and etcd alike: \(fix)")
    }

    /// An empty user name from a setting (`--username ''`, `"username": ""`), refused naming that
    /// setting: it went into the store URL, whose refusal blamed the URL ("has a password but no user name").
    private static func refuseEmptyUser(_ user: ConfigurationSetting<String>) throws(CoordinationError) {
        guard user.value.isEmpty else { return }
        throw problem(user, "the user name", "is empty: give the user name, or leave the setting out to connect without credentials")
    }

    private static func problem(_ setting: ConfigurationSetting<String>, _ name: String, _ what: String) -> CoordinationError {
        CoordinationError(.invalidConfiguration, "\(name) from \(setting.source) \(what)")
    }

    /// The refinements, each checked, and the password read from its file: what one store URL or
    /// two are refined with.
    private struct CheckedRefinements {
        var namespace: Key?
        var sessionTTL: Duration?
        var user: ConfigurationSetting<String>?
        /// The password setting that wins (``passwordLoser``): the password itself (read from
        /// the file where it came from one, or why it could not be), and how a message names
        /// its setting (never by its value).
        var password: Password?
        /// The TLS files, as the etcds:// URL options they become.
        var tlsFiles: [(option: String, file: ConfigurationSetting<String>)] = []
    }

    struct Password {
        var value: Result<String, CoordinationError>
        var name: String
        var setting: ConfigurationSetting<String>
        var refinement: Refinement
    }

    /// Checks the refinements and reads the password file; a bad value names the setting and
    /// where it came from. The namespace only when `namespace` is `true`.
    private func checkedRefinements(namespace includeNamespace: Bool) throws(CoordinationError) -> CheckedRefinements {
        var refined = CheckedRefinements()
        if includeNamespace, let namespace = refinements[.namespace] {
            let key: Key
            do {
                key = try Key(namespace.value)
            } catch {
                throw Self.problem(namespace, "namespace '\(namespace.value)'", "is not a valid key: \(error.message)")
            }
            if let why = CoordinationLimits.namespaceProblem(key) {
                throw Self.problem(namespace, "namespace '\(namespace.value)'", "cannot be a namespace: \(why)")
            }
            refined.namespace = key
        }
        if let ttl = refinements[.sessionTtl] {
            let range = "\(DurationText.format(CoordinationLimits.sessionTTLRange.lowerBound)) to "
                + "\(DurationText.format(CoordinationLimits.sessionTTLRange.upperBound))"
            // "Is negative; write one number and one unit" did not say which are taken.
            if DurationText.isNegativeNumber(ttl.value) {
                throw Self.problem(
                    ttl, "session TTL '\(ttl.value)'",
                    "is negative; choose one of the session TTLs every backend accepts, \(range), such as 10s")
            }
            // --session-ttl takes the next word whatever it is: with its value left out, it took
            // the next option (or the `--` before a held command) for one.
            if ttl.value.drop(while: { $0 == " " || $0 == "\t" }).hasPrefix("-") {
                throw Self.problem(
                    ttl, "session TTL '\(ttl.value)'",
                    "is no duration but an option's spelling: was the TTL left out? Give one, \(range), right after it, such as 10s")
            }
            let duration: Duration
            switch DurationText.positive(ttl.value) {
            case .success(let positive): duration = positive
            case .failure(let problem): throw Self.problem(ttl, "session TTL '\(ttl.value)'", problem.description)
            }
            if let outside = CoordinationLimits.sessionTTLProblem(duration) {
                throw Self.problem(ttl, "session TTL '\(ttl.value)'", outside)
            }
            refined.sessionTTL = duration
        }
        refined.user = refinements[.username]
        if let direct = refinements[.password], passwordLoser != .password {
            refined.password = Password(value: .success(direct.value), name: "the password", setting: direct, refinement: .password)
        } else if let file = refinements[.passwordFile] {
            let contents = passwordFileContents ?? .failure(Self.problem(file, "password file \(file.value)", "was not read"))
            refined.password = Password(value: contents, name: "password file \(file.value)", setting: file, refinement: .passwordFile)
        }
        for (refinement, option) in [(Refinement.tlsCa, "cacert"), (.tlsCert, "cert"), (.tlsKey, "key")] {
            if let file = refinements[refinement] { refined.tlsFiles.append((option, file)) }
        }
        return refined
    }

    /// `--config`, else `COORD_CONFIG`, else `./coord.json`, else the user's config folder's
    /// `coord/config.json`; the last two only when they exist.
    static func configFilePath(
        flags: Flags, environment: [String: String], currentDirectory: String
    ) throws(CoordinationError) -> (path: String, chosenBy: String)? {
        let explicit: (path: String, source: String)? =
            if let path = flags.configFile { (path, "--config") }
            else if let path = environment[configFileVariable], !path.isEmpty { (path, configFileVariable) }
            else { nil }
        if let explicit {
            if explicit.path.isEmpty {
                throw CoordinationError(.invalidConfiguration, "\(explicit.source) names no config file; give its path, or leave the option out")
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: explicit.path, isDirectory: &isDirectory) else {
                throw CoordinationError(
                    .invalidConfiguration, "config file \(explicit.path) (from \(explicit.source)) does not exist")
            }
            guard !isDirectory.boolValue else {
                throw CoordinationError(
                    .invalidConfiguration, "config file \(explicit.path) (from \(explicit.source)) is a directory")
            }
            return (explicit.path, "from \(explicit.source)")
        }
        return configFileCandidates(environment: environment, currentDirectory: currentDirectory)
            .first { FileManager.default.fileExists(atPath: $0.path) }.map { (path: $0.path, chosenBy: $0.foundIn) }
    }

    /// Where a config file is looked for when none is named, in order.
    static func configFileCandidates(environment: [String: String], currentDirectory: String) -> [(path: String, foundIn: String)] {
        var candidates = [(path: currentDirectory + "/coord.json", foundIn: "found in the current directory")]
        // The XDG base directory spec: a relative XDG_CONFIG_HOME is ignored, as if unset.
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            candidates.append((xdg + "/coord/config.json", "found in $XDG_CONFIG_HOME"))
        } else if let home = environment["HOME"], !home.isEmpty {
            candidates.append((home + "/.config/coord/config.json", "found in ~/.config"))
        }
        return candidates
    }
}

extension Logger.Level {
    /// The levels as `--log-level` accepts them.
    static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

extension StoreURL {
    /// Sets the session TTL as `ttl`, which every backend understands (ZooKeeper's
    /// `sessionTimeout` is the same thing, and goes).
    fileprivate mutating func setSessionTTL(_ ttl: Duration) {
        options.removeAll { $0.name == "ttl" || $0.name == "sessionTimeout" }
        options.append((name: "ttl", value: DurationText.format(ttl)))
    }
}
