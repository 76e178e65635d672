import Configuration
import Coordination
import Testing

/// Readers over one in-memory provider, named so that messages can be checked for it.
enum ConfigReaders {
    static let providerName = "test-settings"

    static func reader(_ values: [AbsoluteConfigKey: ConfigValue]) -> ConfigReader {
        ConfigReader(provider: InMemoryProvider(name: providerName, values: values))
    }

    static func list(_ items: [String]) -> ConfigValue {
        ConfigValue(.stringArray(items), isSecret: false)
    }

    static func secret(_ text: String) -> ConfigValue {
        ConfigValue(.string(text), isSecret: true)
    }

    /// The `invalidConfiguration` error `body` throws; records an issue when it throws none or another.
    static func error(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> CoordinationError? {
        do {
            try body()
            Issue.record("no error was thrown", sourceLocation: sourceLocation)
        } catch let error as CoordinationError {
            #expect(error.code == .invalidConfiguration, "\(error)", sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("\(error) is not a CoordinationError", sourceLocation: sourceLocation)
        }
        return nil
    }

    /// Each case's values make `build` throw `invalidConfiguration` naming the key, the problem and the provider.
    static func expectInvalid(
        _ cases: [(key: String, values: [AbsoluteConfigKey: ConfigValue], problem: String)],
        _ build: (ConfigReader) throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for (key, values, problem) in cases {
            guard let error = error({ try build(reader(values)) }, sourceLocation: sourceLocation) else { continue }
            for part in ["configuration key '\(key)'", problem, providerName] {
                #expect(error.message.contains(part), "\(error.message)", sourceLocation: sourceLocation)
            }
        }
    }
}
