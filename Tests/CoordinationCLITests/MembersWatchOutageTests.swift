import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

/// `coord members --watch` across an outage: like `kv watch`, it says on stderr when contact was
/// lost and when it came back (it said nothing, its last state standing as if current), and a
/// member who joined meanwhile still reaches its output.
@Suite("coord members --watch across a lost connection", .serverLoadLimit)
struct MembersWatchOutageTests {
    @Test("members --watch notes a lost connection and its return, and prints the member who joined meanwhile", arguments: SchedulerProcessTests.servers)
    func watchAcrossAnOutage(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let relay = try WorkerWaitsForStoreTests.relay(to: backend)
        defer { relay.stop() }
        let direct = try #require(backend.url(handles.namespace, ttl: handles.ttl))
        let url = WorkerWaitsForStoreTests.url(direct, throughHost: relay.address)

        let process = Process()
        process.executableURL = CoordProcess.binary
        process.arguments = ["--store", url, "members", "crew", "--watch", "--json"]
        process.environment = coord.environment
        let stdoutPath = try coord.write("", to: "watch.stdout")
        let stderrPath = try coord.write("", to: "watch.stderr")
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let read: @Sendable (String) -> String = { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }
        // Another process's files: read until the line shows (or the process ended), within a bound.
        func waitFor(_ what: String, in path: String, limit: Duration = .seconds(30)) async throws {
            try await withDeadline(what, limit: limit) {
                while !read(path).contains(what) && process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(read(path).contains(what), "\(what) never came: stdout \(read(stdoutPath)), stderr \(read(stderrPath))")
        }

        try await waitFor(#"{"members":[]}"#, in: stdoutPath)
        relay.cut()
        try await waitFor("coord: note: lost contact with the store", in: stderrPath)
        let store = try await handles.open()
        _ = try await store.create(try Key("/groups/crew/meanwhile"), value: [], mode: .ephemeral)
        relay.heal()
        try await waitFor("coord: note: contact is back; the group follows if it changed meanwhile", in: stderrPath)
        try await waitFor(#""id":"meanwhile""#, in: stdoutPath)

        process.terminate()
        let status = await MigrateCommandTests.exit(of: process).status
        #expect(status == 0, "\(read(stderrPath))")
        await handles.closeAll()
    }
}
