import Coordination
import CoordinationCLI
import Foundation
import Synchronization
import PropertyBased
import Testing

/// Config files assembled from JSON pieces, valid or not: resolving never crashes, and every
/// rejection is one line with the `invalidConfiguration` code that names the file or the value.
@Suite struct ConfigFileFuzzTests {
    static let pieces = [
        "{", "}", "[", "]", ":", ",", "\"", "\"store\"", "\"logLevel\"", "\"memory://\"", "\"zookeeper://h:1/ns\"",
        "\"etcd://u:secret@h:2379\"", "\"info\"", "\"loud\"", "null", "1", "-0.5e9", "true", "\"\\u0000\"", "\"é\"", " ", "\n",
        "\"nested\"", "{\"store\":", "\"\\\"", "\u{FEFF}",
    ]

    @Test func everyConfigFileResolvesOrIsOneLineNamingTheProblem() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("coord-config-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let counter = Counter()
        let text = Gen.int(in: 0...(Self.pieces.count - 1)).array(of: 0...12).map { $0.map { Self.pieces[$0] }.joined() }
        await propertyCheck(count: 400, input: text) { contents in
            let file = folder.appendingPathComponent("config-\(counter.next()).json")
            try? Data(contents.utf8).write(to: file)
            do {
                let configuration = try await CoordConfiguration.resolve(
                    flags: .init(configFile: file.path), environment: [:], currentDirectory: folder.path)
                do {
                    _ = try configuration.storeURL()
                } catch let error as CoordinationError {
                    #expect(error.code == .invalidConfiguration)
                    #expect(!error.message.contains("secret"), "the password never shows: \(error.message)")
                } catch {
                    Issue.record("threw \(type(of: error)), not CoordinationError")
                }
            } catch let error as CoordinationError {
                #expect(error.code == .invalidConfiguration, "\(contents.debugDescription) was refused as \(error.code)")
                #expect(!error.message.contains("\n"), "one line: \(error.message.debugDescription)")
                #expect(!error.message.contains("secret"), "the password never shows: \(error.message)")
                #expect(
                    error.message.contains(file.lastPathComponent) || error.message.contains("log level"),
                    "the message names the file or the value: \(error.message)")
            } catch {
                Issue.record("threw \(type(of: error)), not CoordinationError")
            }
        }
    }
}

/// File names for the property check's cases (it may run them concurrently).
private final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}
