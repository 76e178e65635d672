import CoordinationCLI
import Foundation
import Testing

/// An environment variable set to nothing (`COORD_STORE=` in a script, a compose file's
/// `COORD_STORE: ${COORD_STORE}` with the host's variable unset) counts as not set: the config file
/// or the default decides, as when it is absent. Taken as a value, the empty store URL was a
/// configuration error and an empty namespace overrode the file's (mutant C25 of the CLI audit
/// passed every test).
@Suite("an empty COORD_ variable counts as not set")
struct EmptyEnvironmentSettingTests {
    @Test("empty COORD_STORE, COORD_LOG_LEVEL and COORD_NAMESPACE leave the config file's values, and the defaults, in force")
    func emptyVariableFallsThrough() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("coord-empty-env-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("coord.json").path
        try Data(#"{"store": "etcd://127.0.0.1:2379/app", "namespace": "/team"}"#.utf8).write(to: URL(fileURLWithPath: file))
        let empty = ["COORD_STORE": "", "COORD_LOG_LEVEL": "", "COORD_NAMESPACE": ""]

        let configuration = try await CoordConfiguration.resolve(flags: .init(), environment: empty, currentDirectory: folder.path)
        #expect(configuration.store.value == "etcd://127.0.0.1:2379/app")
        #expect(configuration.store.source == .file(path: file, key: "store"))
        #expect(configuration.logLevel.source == .builtIn)
        #expect(configuration.refinements[.namespace]?.source == .file(path: file, key: "namespace"))
        #expect(try configuration.storeURL().namespace.path == "/team")

        // Set, a variable still wins over the file.
        let set = try await CoordConfiguration.resolve(
            flags: .init(), environment: ["COORD_STORE": "zookeeper://127.0.0.1:2181/other"], currentDirectory: folder.path)
        #expect(set.store.source == .environment("COORD_STORE"))
    }
}
