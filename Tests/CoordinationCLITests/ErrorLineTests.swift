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

    /// A NUL in a config file's store URL was printed as it was (grep then takes the output for binary), and an
    /// escape sequence in it reached the terminal: control characters quoted from a setting print
    /// as `\u{…}`, as in a key's message.
    @Test("control characters quoted from a setting print escaped, and the line stays one line")
    func controlCharactersInAMessageAreEscaped() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(#"{"store": "mem\u0000o\u001b[31mry://"}"#, to: "coord.json")
        let result = try await coord.run(["--config", file, "kv", "ls", "/"])
        #expect(result.status == 7, "\(result.stderr)")
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(!result.stderr.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, "\(result.stderr.debugDescription)")
        #expect(result.stderr.contains(#"'mem\u{0}o\u{1b}[31mry://'"#), "\(result.stderr)")
    }
}
