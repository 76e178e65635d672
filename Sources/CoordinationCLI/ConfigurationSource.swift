/// Where a configuration value came from, so that an error (and later `coord config check`)
/// can say which flag, variable or file to fix.
public enum ConfigurationSource: Sendable, Hashable, CustomStringConvertible {
    /// A command-line option, for example `--store`.
    case flag(String)
    /// An environment variable, for example `COORD_STORE`.
    case environment(String)
    /// A key of a configuration file.
    case file(path: String, key: String)
    /// The built-in default.
    case builtIn

    /// Lower wins: flags, then the environment, then a config file, then the default.
    var precedence: Int {
        switch self {
        case .flag: 0
        case .environment: 1
        case .file: 2
        case .builtIn: 3
        }
    }

    public var description: String {
        switch self {
        case .flag(let name): name
        case .environment(let name): "environment variable \(name)"
        case .file(let path, let key): "key '\(key)' of config file \(path)"
        case .builtIn: "the default"
        }
    }
}

/// A resolved configuration value and where it came from.
public struct ConfigurationSetting<Value: Sendable>: Sendable {
    public var value: Value
    public var source: ConfigurationSource

    public init(_ value: Value, from source: ConfigurationSource) {
        self.value = value
        self.source = source
    }
}
