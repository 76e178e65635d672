import Configuration
import Coordination
import Foundation

/// The configuration sources in precedence order (flags, environment, file), each a
/// swift-configuration provider. They are asked one by one rather than through a single
/// `ConfigReader` so that every value knows which source it came from.
struct ConfigurationLayers {
    private enum Layer {
        case flags(InMemoryProvider)
        case environment(KeyMappingProvider<EnvironmentVariablesProvider>)
        case file(InMemoryProvider, path: String)
    }
    private let layers: [Layer]

    init(
        flags: CoordConfiguration.Flags, environment: [String: String], file: String?
    ) async throws(CoordinationError) {
        // The store URL may carry a password: mark it secret wherever it comes from.
        var flagValues: [AbsoluteConfigKey: ConfigValue] = [:]
        if let store = flags.store {
            flagValues[AbsoluteConfigKey([CoordConfiguration.Setting.store.rawValue])] = ConfigValue(.string(store), isSecret: true)
        }
        if let level = flags.logLevel {
            flagValues[AbsoluteConfigKey([CoordConfiguration.Setting.logLevel.rawValue])] = ConfigValue(.string(level), isSecret: false)
        }
        for (refinement, value) in flags.refinements {
            flagValues[AbsoluteConfigKey([refinement.rawValue])] = ConfigValue(.string(value), isSecret: refinement.isSecret)
        }
        var layers: [Layer] = [
            .flags(InMemoryProvider(name: "flags", values: flagValues)),
            .environment(
                EnvironmentVariablesProvider(
                    environmentVariables: environment,
                    secretsSpecifier: .specific([
                        CoordConfiguration.Setting.store.environmentVariable, CoordConfiguration.Setting.password.environmentVariable,
                    ])
                ).prefixKeys(with: "coord")),
        ]
        if let file {
            layers.append(.file(try await Self.readFile(file), path: file))
        }
        self.layers = layers
    }

    /// The first layer's string value for `setting`, with its source; `nil` when no layer has one.
    func string(for setting: CoordConfiguration.Setting) throws(CoordinationError) -> ConfigurationSetting<String>? {
        let key = AbsoluteConfigKey([setting.rawValue])
        for layer in layers {
            switch layer {
            case .flags(let provider):
                if let value = try Self.string(provider, key) {
                    return ConfigurationSetting(value, from: .flag(setting.flag))
                }
            case .environment(let provider):
                if let value = try Self.string(provider, key), !value.isEmpty {
                    return ConfigurationSetting(value, from: .environment(setting.environmentVariable))
                }
            case .file(let provider, let path):
                do {
                    if let value = try Self.string(provider, key) {
                        return ConfigurationSetting(value, from: .file(path: path, key: setting.rawValue))
                    }
                } catch {
                    throw CoordinationError(
                        .invalidConfiguration, "config file \(path): key '\(setting.rawValue)' must be a string")
                }
            }
        }
        return nil
    }

    private static func string(_ provider: some ConfigProvider, _ key: AbsoluteConfigKey) throws(CoordinationError) -> String? {
        let result: LookupResult
        do {
            result = try provider.value(forKey: key, type: .string)
        } catch {
            throw CoordinationError(.invalidConfiguration, "\(key) is not a string")
        }
        guard case .string(let text)? = result.value?.content else { return nil }
        return text
    }

    /// Reads and parses a JSON config file, turning any failure into one line naming the file.
    /// Read by coord rather than by swift-configuration's `FileProvider`, which refuses a pipe
    /// (`--config <(…)`, `/dev/stdin`) and words a failure as an NSError dump.
    private static func readFile(_ path: String) async throws(CoordinationError) -> InMemoryProvider {
        let bytes: [UInt8]
        do {
            bytes = try await StandardStreams.readFile(path, for: "config file \(path)")
        } catch {
            throw CoordinationError(.invalidConfiguration, "config file \(path) cannot be read (\(error.reason))")
        }
        if let problem = problem(in: bytes) {
            throw CoordinationError(.invalidConfiguration, "config file \(path) \(problem)")
        }
        try refuseUnknownOrRepeatedKeys(in: bytes, path: path)
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]) ?? [:]
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        let secrets: Set<String> = [CoordConfiguration.Setting.store.rawValue, CoordConfiguration.Setting.password.rawValue]
        for (key, value) in object {
            // Every setting is text; `null` too would otherwise pass for "not given".
            guard let text = value as? String else {
                throw CoordinationError(
                    .invalidConfiguration, "config file \(path): key '\(key)' must be a string, e.g. \(example(for: key))")
            }
            values[AbsoluteConfigKey([key])] = ConfigValue(.string(text), isSecret: secrets.contains(key))
        }
        return InMemoryProvider(name: path, values: values)
    }

    /// What is wrong with a config file's `bytes`, in plain words with a line and column
    /// (Foundation's own error is an NSError dump); `nil` when they read as a JSON object.
    private static func problem(in bytes: [UInt8]) -> String? {
        let data = Data(bytes)
        let example = #"a JSON object, e.g. {"store": "etcd://127.0.0.1:2379/myapp", "logLevel": "info"}"#
        do {
            if try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) is [String: Any] { return nil }
            return "holds JSON but not an object; write \(example)"
        } catch {
            // Not quoted: `"password": hunter2`, its quotes forgotten, printed the password.
            return "is not valid JSON: " + JSONSyntaxProblem.describe(error, in: bytes, expected: example, quotingText: false)
        }
    }

    /// A key given twice, or misspelt, would otherwise be ignored in silence: `{"stor": "etcd://…"}` left the
    /// store at its default, `memory://`, whose writes vanish when the command ends.
    private static func refuseUnknownOrRepeatedKeys(in bytes: [UInt8], path: String) throws(CoordinationError) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return }
        if let problem = StrictJSON.problem(in: bytes) {
            throw CoordinationError(.invalidConfiguration, "config file \(path) is not valid JSON: \(problem)")
        }
        let known = CoordConfiguration.Setting.allCases.map(\.rawValue)
        for key in object.keys.sorted() where !known.contains(key) {
            let guess = Spelling.nearest(to: key, among: known).map { " (did you mean '\($0)'?)" } ?? ""
            throw CoordinationError(
                .invalidConfiguration,
                "config file \(path) has an unknown key '\(key)'\(guess); the keys are \(known.joined(separator: ", "))")
        }
    }

    /// A value of the right kind for `key`, for a message.
    private static func example(for key: String) -> String {
        switch CoordConfiguration.Setting(rawValue: key) {
        case .store: #""store": "etcd://127.0.0.1:2379/myapp""#
        case .logLevel: #""logLevel": "info""#
        case .sessionTtl: #""sessionTtl": "10s""#
        case .namespace: #""namespace": "/myapp""#
        default: #""\#(key)": "…""#
        }
    }
}
