import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

/// `coord members --join` whose command exits while the store is out of reach exits with the
/// command's status at once: the member ends with the session, as a lock's entry does, rather
/// than coord waiting up to two session TTLs for contact to remove it.
@Suite("coord members --join out of contact", .serverLoadLimit)
struct MembersJoinOutOfContactTests {
    @Test("a member whose command exits out of contact exits with its status without waiting for the store", arguments: SchedulerProcessTests.servers)
    func exitsWithoutWaitingForContact(backend: TestBackend) async throws {
        // A long TTL: waiting out two of them would far outlast the exit deadline below.
        let handles = try TestHandles(backend, ttl: .seconds(30))
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let (relay, url) = try WorkerWaitsForStoreTests.relayed(backend, handles)
        defer { relay.stop() }
        let flag = coord.directory.appendingPathComponent("exit-now").path
        let member = try await LineProcess(
            CoordProcess.binary.path,
            ["--store", url, "members", "web", "--join", "web-1", "--", "sh", "-c",
             "echo joined; while [ ! -e '\(flag)' ]; do sleep 0.05; done; exit 7"])
        defer { member.stop() }
        #expect(try await member.nextLine(within: .seconds(20)) == "joined")
        relay.cut()
        #expect(FileManager.default.createFile(atPath: flag, contents: nil))
        #expect(try await member.exitStatus(within: .seconds(20)) == 7)
        await handles.closeAll()
    }
}
