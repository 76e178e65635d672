import Coordination
import CoordinationTestSupport
import Foundation
import Testing

@Suite("coord error lines", .serverLoadLimit)
struct ErrorLineTests {
    /// The same data-level mistake gives the same stderr line and status on ZooKeeper and etcd:
    /// no backend detail in brackets (ZooKeeper's rc, etcd's gateway words) after the portable words.
    @Test("a data-level refusal prints the same line on ZooKeeper and etcd, without the backend's detail")
    func dataLevelRefusalsReadTheSameOnEveryBackend() async throws {
        var lines: [String: [String]] = [:]
        for backend in SchedulerProcessTests.servers {
            let handles = try TestHandles(backend)
            lines[backend.name] = try await TestHandles.closing(handles) {
                let store = try await handles.open()
                _ = try await store.create(try Key("/p/c"), value: [], mode: .persistent)
                let url = try #require(backend.url(handles.namespace))
                let coord = try CoordProcess()
                defer { coord.removeDirectory() }
                let mistakes: [(arguments: [String], status: Int32)] = [
                    (["kv", "get", "/missing"], 2),
                    (["kv", "create", "/p", "v"], 3),
                    (["kv", "set", "/p/c", "w", "--if-version", "5"], 4),
                    (["kv", "rm", "/p"], 5),
                ]
                var printed: [String] = []
                for (arguments, status) in mistakes {
                    let result = try await coord.run(["--store", url] + arguments)
                    #expect(result.status == status, "\(backend.name) \(arguments): \(result.stderr)")
                    #expect(result.stderrLines.count == 1, "\(backend.name) \(arguments): \(result.stderr)")
                    #expect(!result.stderr.contains("["), "\(backend.name) \(arguments): \(result.stderr)")
                    printed.append(result.stderr)
                }
                return printed
            }
        }
        #expect(lines["zookeeper"] == lines["etcd"])
    }
}
