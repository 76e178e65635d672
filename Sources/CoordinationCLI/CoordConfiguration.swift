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
    /// The settings that refine the store URL (namespace, session TTL, credentials, TLS files),
    /// where one was given; they override what the URL itself says when their source is as strong.
    public var refinements: [Refinement: ConfigurationSetting<String>] = [:]

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

    /// Resolves the configuration.
    /// - Parameters:
    ///   - environment: the process environment (injected for tests).
    ///   - currentDirectory: where `./coord.json` is looked for.
    /// - Throws: `invalidConfiguration` naming the file or value and what is wrong with it.
    public static func resolve(
        flags: Flags,
        environment: [String: String],
        currentDirectory: String
    ) async throws(CoordinationError) -> CoordConfiguration {
        let file = try configFilePath(flags: flags, environment: environment, currentDirectory: currentDirectory)
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
        var configuration = CoordConfiguration(store: store, logLevel: logLevel, file: file)
        for refinement in Refinement.allCases {
            configuration.refinements[refinement] = try layers.string(for: refinement.setting)
        }
        return configuration
    }

    /// Parses the store URL.
    /// - Throws: `invalidConfiguration`, naming where the URL came from.
    public func storeURL() throws(CoordinationError) -> StoreURL {
        try storeURLWithNotes().url
    }

    /// The store URL, and what the user should hear about a setting left unapplied (a
    /// password from the environment or a config file with no user name to go with it).
    /// - Throws: `invalidConfiguration`, naming where the URL or the setting came from.
    public func storeURLWithNotes() throws(CoordinationError) -> (url: StoreURL, notes: [String]) {
        var url: StoreURL
        do {
            url = try StoreURL(store.value)
        } catch {
            var error = error
            error.message += " (from \(store.source))"
            throw error
        }
        let notes = try refine(&url)
        return (url, notes)
    }

    /// Applies the refinements to `url`; a bad value names the setting and where it came from.
    /// A refinement overrides what the URL itself says only when it comes from a source as
    /// strong as the URL's: a `coord.json` left in the current directory must not send an
    /// explicit `--store etcd://h/prod` (or `COORD_STORE`) to the file's namespace.
    private func refine(_ url: inout StoreURL) throws(CoordinationError) -> [String] {
        var notes: [String] = []
        let refined = try checkedRefinements(namespace: true)
        let said = Self.said(by: url)
        func applies(_ setting: ConfigurationSetting<String>?, as name: String) -> Bool {
            guard let setting else { return false }
            return !said.contains(name) || setting.source.precedence <= store.source.precedence
        }
        if let namespace = refined.namespace, applies(refinements[.namespace], as: Refinement.namespace.rawValue) {
            url.namespace = namespace
        }
        if let ttl = refined.sessionTTL, applies(refinements[.sessionTtl], as: Refinement.sessionTtl.rawValue) { url.setSessionTTL(ttl) }
        if let user = refined.user, applies(user, as: Refinement.username.rawValue) { url.user = user.value }
        if let password = refined.password, applies(password.setting, as: "password") {
            if url.scheme == "memory" {
                // As for a password with no user: named on the command line it is a mistake; from
                // the environment or a config file it is likely meant for another store.
                let why = "applies to ZooKeeper and etcd stores, not memory:// (which takes no credentials)"
                if case .flag = password.setting.source { throw Self.problem(password.setting, password.name, why) }
                notes.append("\(password.name) from \(password.setting.source) is not used: it \(why)")
            } else if url.user == nil {
                // A password means nothing without a user. Given on the command line it is a
                // mistake to name; exported in the environment or left in a config file it is
                // often meant for another store, and must not lock this one (which may need no
                // credentials) out: it is left unapplied, and the user is told.
                let fix = "give --username, COORD_USERNAME or 'username' in the config file, or the user in the URL (\(url.scheme)://user@host/…)"
                if case .flag = password.setting.source {
                    throw Self.problem(password.setting, password.name, "needs a user name, and none is given: \(fix)")
                }
                notes.append("\(password.name) from \(password.setting.source) is not used: no user name is given, so coord connects without credentials; to log in, \(fix)")
            } else {
                url.password = password.value
            }
        }
        for (option, file) in refined.tlsFiles {
            guard url.scheme == "etcds" else {
                throw Self.problem(file, "TLS file \(file.value)", "applies only to an etcds:// store, not \(url.scheme)://")
            }
            guard applies(file, as: option) else { continue }
            url.options.removeAll { $0.name == option }
            url.options.append((name: option, value: file.value))
        }
        return notes
    }

    /// Whether `refinement` comes from a source at least as strong as the store URL's.
    private func overridesStore(_ refinement: Refinement) -> Bool {
        guard let setting = refinements[refinement] else { return false }
        return setting.source.precedence <= store.source.precedence
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

    /// The refinements that were given but not applied, because the store URL says otherwise
    /// and comes from a stronger source: `coord config check` says so.
    public func refinementsOverruled() -> Set<Refinement> {
        guard let url = try? StoreURL(store.value) else { return [] }
        let said = Self.said(by: url)
        let options: [Refinement: String] = [.tlsCa: "cacert", .tlsCert: "cert", .tlsKey: "key", .password: "password", .passwordFile: "password"]
        return Set(refinements.keys.filter { refinement in
            said.contains(options[refinement] ?? refinement.rawValue) && !overridesStore(refinement)
        })
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
        let refined = try checkedRefinements(namespace: false)
        var urls = stores.map(\.url)
        let named = stores.map { "\($0.flag) (\($0.url.scheme)://)" }.joined(separator: " nor ")
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
                if urls[index].user == nil, let user = refined.user { urls[index].user = user.value }
                if urls[index].user != nil && urls[index].password == nil, let password = refined.password {
                    urls[index].password = password.value
                }
            }
        }
        if let (_, file) = refined.tlsFiles.first, !urls.contains(where: { $0.scheme == "etcds" }) {
            throw Self.problem(file, "TLS file \(file.value)", "applies only to an etcds:// store, and neither \(named) is one")
        }
        let authenticating = urls.filter { $0.scheme != "memory" }
        if let user = refined.user, authenticating.isEmpty {
            throw Self.problem(user, "user '\(user.value)'", "applies to ZooKeeper and etcd stores, and neither \(named) is one (memory:// takes no credentials)")
        }
        var notes: [String] = []
        if let password = refined.password, !authenticating.contains(where: { $0.user != nil }) {
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

    private static func problem(_ setting: ConfigurationSetting<String>, _ name: String, _ what: String) -> CoordinationError {
        CoordinationError(.invalidConfiguration, "\(name) from \(setting.source) \(what)")
    }

    /// The refinements, each checked, and the password read from its file: what one store URL or
    /// two are refined with.
    private struct CheckedRefinements {
        var namespace: Key?
        var sessionTTL: Duration?
        var user: ConfigurationSetting<String>?
        /// The password itself (read from the file where it came from one), and how a message
        /// names its setting (never by its value).
        var password: (value: String, name: String, setting: ConfigurationSetting<String>)?
        /// The TLS files, as the etcds:// URL options they become.
        var tlsFiles: [(option: String, file: ConfigurationSetting<String>)] = []
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
        // The password and the password file are one setting given two ways: the one from the
        // stronger source wins (a --password-file flag beats COORD_PASSWORD).
        let direct = refinements[.password]
        let viaFile = refinements[.passwordFile]
        if let direct, viaFile.map({ direct.source.precedence <= $0.source.precedence }) ?? true {
            refined.password = (direct.value, "the password", direct)
        } else if let file = viaFile {
            guard let data = FileManager.default.contents(atPath: file.value) else {
                throw Self.problem(file, "password file \(file.value)", "cannot be read")
            }
            // A trailing newline is how editors and `echo` end files, never part of a password.
            var text = String(decoding: data, as: UTF8.self)
            while text.last?.isNewline == true { text.removeLast() }
            refined.password = (text, "password file \(file.value)", file)
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
    ) throws(CoordinationError) -> String? {
        let explicit: (path: String, source: String)? =
            if let path = flags.configFile { (path, "--config") }
            else if let path = environment[configFileVariable], !path.isEmpty { (path, configFileVariable) }
            else { nil }
        if let explicit {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: explicit.path, isDirectory: &isDirectory) else {
                throw CoordinationError(
                    .invalidConfiguration, "config file \(explicit.path) (from \(explicit.source)) does not exist")
            }
            guard !isDirectory.boolValue else {
                throw CoordinationError(
                    .invalidConfiguration, "config file \(explicit.path) (from \(explicit.source)) is a directory")
            }
            return explicit.path
        }
        var candidates = [currentDirectory + "/coord.json"]
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty {
            candidates.append(xdg + "/coord/config.json")
        } else if let home = environment["HOME"], !home.isEmpty {
            candidates.append(home + "/.config/coord/config.json")
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
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
