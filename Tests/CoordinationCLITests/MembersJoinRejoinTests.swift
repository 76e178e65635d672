import Coordination
import CoordinationLocalServers
import CoordinationRecipes
import CoordinationTestSupport
import Foundation
import Testing

/// `coord members --join` cut off from the store until its session expired: the member leaves
/// the group (as seen from elsewhere), and once contact is back coord joins again by itself, its
/// command running on throughout.
@Suite("coord members --join across an expiry", .serverLoadLimit)
struct MembersJoinRejoinTests {
    @Test("a member whose session expired out of contact joins again once contact is back, its command still running", arguments: SchedulerProcessTests.servers)
    func joinsAgainAfterAnExpiry(backend: TestBackend) async throws {
        let handles = try TestHandles(backend, ttl: .seconds(2))
        let (relay, url) = try WorkerWaitsForStoreTests.relayed(backend, handles)
        defer { relay.stop() }
        let member = try await LineProcess(
            CoordProcess.binary.path,
            ["--store", url, "members", "web", "--join", "web-1", "--metadata", "m", "--", "sh", "-c", "echo started $$; exec sleep 3600"])
        defer { member.stop() }
        let started = try await member.nextLine(within: .seconds(20))
        #expect(started.hasPrefix("started "))
        let commandPID = try #require(Int32(started.dropFirst("started ".count)))

        let observer = Membership(store: try await handles.open(), group: try Key("/groups/web"))
        // Waits until the group is `ids` (a watch from now: its first state is the group now).
        func next(_ ids: [String]) async throws -> Bool {
            try await withDeadline("the group to be \(ids)", limit: .seconds(30)) {
                for try await view in observer.watch() where view.map(\.id) == ids { return true }
                return false
            }
        }
        #expect(try await next(["web-1"]))
        let first = try #require(await observer.members().first)
        relay.cut()
        #expect(try await next([]), "the member left with its expired session")
        relay.heal()
        #expect(try await next(["web-1"]), "and joined again once contact was back")
        let again = try #require(await observer.members().first)
        #expect(again.joinedRevision > first.joinedRevision && again.metadata == Array("m".utf8))
        #expect(kill(commandPID, 0) == 0, "the command ran on throughout")

        member.kill(SIGTERM)
        #expect(try await member.exitStatus(within: .seconds(20)) == 143)
        #expect(try await next([]), "left when the command exited")
        await handles.closeAll()
    }
}
