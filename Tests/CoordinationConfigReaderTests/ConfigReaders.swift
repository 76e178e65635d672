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
}
