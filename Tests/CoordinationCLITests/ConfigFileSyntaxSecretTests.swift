import Coordination
import CoordinationCLI
import Testing

/// A config file holds the password and the store URL, which may carry one: a syntax error in it
/// is placed by line and column, and the text found there is not quoted. `{"password": hunter2}`
/// (its quotes forgotten) printed "unexpected 'hunter2}'", the password, on stderr.
@Suite("a config file's syntax error never quotes a secret")
struct ConfigFileSyntaxSecretTests {
    @Test("a password or a store URL written without quotes is placed, not quoted", arguments: [
        (#"{"password": bare-pw-1}"#, "line 1, column 14 (byte 13)"),
        ("{\n  \"store\": etcd://app:bare-pw-2@127.0.0.1:2379/ns\n}", "line 2, column 12 (byte 13)"),
    ])
    func unquotedSecretIsNotEchoed(content: String, place: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(content, to: "coord.json")
        let error = await #expect(throws: CoordinationError.self) {
            _ = try await CoordConfiguration.resolve(flags: .init(configFile: file), environment: [:], currentDirectory: coord.directory.path)
        }
        let message = error?.message ?? ""
        #expect(message == "config file \(file) is not valid JSON: unexpected text at \(place)", "\(message)")
        #expect(!message.contains("bare-pw"), "\(message)")
    }
}
