import Coordination
import CoordinationCLI
import Foundation
import Testing

/// How `coord` resolves its settings where a rule of the README's Configuration section is the
/// only thing deciding: each of these passed every other test with its rule broken (the cfgmut
/// mutation audit).
@Suite("coord's configuration at the edges of its precedence rules")
struct ConfigResolutionEdgeTests {
    @Test("nothing given: memory:// and log level warning, both from the defaults")
    func defaults() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let configuration = try await CoordConfiguration.resolve(flags: .init(), environment: [:], currentDirectory: coord.directory.path)
        #expect(configuration.store.value == "memory://" && configuration.store.source == .builtIn)
        #expect(configuration.logLevel.value == .warning && configuration.logLevel.source == .builtIn)
    }

    @Test("a log level is read whatever its case: INFO from a flag, Debug from the environment")
    func logLevelIgnoresCase() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let flagged = try await CoordConfiguration.resolve(flags: .init(logLevel: "INFO"), environment: [:], currentDirectory: coord.directory.path)
        #expect(flagged.logLevel.value == .info)
        let exported = try await CoordConfiguration.resolve(
            flags: .init(), environment: ["COORD_LOG_LEVEL": "Debug"], currentDirectory: coord.directory.path)
        #expect(exported.logLevel.value == .debug && exported.logLevel.source == .environment("COORD_LOG_LEVEL"))
    }

    /// README: an environment variable "set to nothing … counts as not set", COORD_CONFIG included.
    @Test("an empty COORD_CONFIG counts as not set: ./coord.json is read")
    func emptyConfigVariableFallsThrough() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(#"{"store": "etcd://127.0.0.1:2379/app"}"#, to: "coord.json")
        let configuration = try await CoordConfiguration.resolve(
            flags: .init(), environment: ["COORD_CONFIG": ""], currentDirectory: coord.directory.path)
        #expect(configuration.file == file)
        #expect(configuration.store.source == .file(path: file, key: "store"))
    }

    /// Opening a store at its root namespace has nothing to look up first, so the store's first
    /// contact is the check's own listing: its failure must still fail the command.
    @Test("config check of a store at its root that cannot be reached exits 9 with one line, and no connection line")
    func unreachableRootFailsTheCheck() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        // Nothing listens on this port of the CLI tests' range: the connection is refused at once.
        let result = try await coord.run(["--store", "etcd://127.0.0.1:24998", "config", "check"])
        #expect(result.status == 9, "\(result.stdoutText) \(result.stderr)")
        #expect(result.stderrLines.count == 1 && result.stderrLines.first?.hasPrefix("coord: ") == true, "\(result.stderr)")
        #expect(!result.stdoutText.contains("connection "), "\(result.stdoutText)")
    }
}
