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

    /// The values given on the command line; `nil` where the flag was not given.
    public struct Flags: Sendable {
        public var store: String?
        public var configFile: String?
        public var logLevel: String?

        public init(store: String? = nil, configFile: String? = nil, logLevel: String? = nil) {
            self.store = store
            self.configFile = configFile
            self.logLevel = logLevel
        }
    }

    /// The settings this type resolves: config key, flag and environment variable.
    enum Setting: String, CaseIterable {
        case store
        case logLevel

        var flag: String {
            switch self {
            case .store: "--store"
            case .logLevel: "--log-level"
            }
        }
        var environmentVariable: String {
            switch self {
            case .store: "COORD_STORE"
            case .logLevel: "COORD_LOG_LEVEL"
            }
        }
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
        return CoordConfiguration(store: store, logLevel: logLevel, file: file)
    }

    /// Parses the store URL.
    /// - Throws: `invalidConfiguration`, naming where the URL came from.
    public func storeURL() throws(CoordinationError) -> StoreURL {
        do {
            return try StoreURL(store.value)
        } catch {
            var error = error
            error.message += " (from \(store.source))"
            throw error
        }
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
