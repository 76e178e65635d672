import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// The flags of `kv rm` and `kv create` that change what is written: dropped, each left a command
/// that still exited 0 (mutants C13 and C14 of the CLI audit passed every test).
@Suite("coord kv rm --if-version and kv create --ephemeral", .serverLoadLimit)
struct KVRemoveAndCreateFlagsTests {
    @Test("kv rm --if-version at another version exits 4 and deletes nothing; at the key's version it deletes", arguments: SchedulerProcessTests.servers)
    func removeChecksVersion(backend: TestBackend) async throws {
        try await CoordProcess.onFreshNamespace(of: backend) { store, url, coord in
            let key = try Key("/config/size")
            _ = try await store.create(key, value: Array("1".utf8), mode: .persistent)
            _ = try await store.set(key, value: Array("2".utf8), ifVersion: 0)

            let stale = try await coord.run(["--store", url, "kv", "rm", "/config/size", "--if-version", "0"])
            #expect(stale.status == 4, "\(stale.stderr)")
            #expect(stale.stderrLines.count == 1 && stale.stderr.contains("/config/size"), "\(stale.stderr)")
            #expect(try await store.get(key)?.value == Array("2".utf8), "a refused rm deletes nothing")

            let current = try await coord.run(["--store", url, "kv", "rm", "/config/size", "--if-version", "1"])
            #expect(current.status == 0, "\(current.stderr)")
            #expect(try await store.get(key) == nil)
        }
    }

    @Test("kv create --ephemeral makes a key of coord's session, gone once coord has exited", arguments: SchedulerProcessTests.servers)
    func ephemeralKeyEndsWithCoord(backend: TestBackend) async throws {
        try await CoordProcess.onFreshNamespace(of: backend) { store, url, coord in
            let create = try await coord.run(["--store", url, "kv", "create", "/workers/w1", "up", "--ephemeral"])
            #expect(create.status == 0, "\(create.stderr)")
            #expect(create.stdoutText == "/workers/w1\n")
            // coord closes its session before it exits, which ends the session's keys.
            #expect(try await store.get(Key("/workers/w1")) == nil, "an ephemeral key outlived the coord that made it")

            // Without the flag the key stays: the check above is about the flag, not the command.
            let persistent = try await coord.run(["--store", url, "kv", "create", "/workers/w2", "up"])
            #expect(persistent.status == 0, "\(persistent.stderr)")
            let record = try await store.get(Key("/workers/w2"))
            #expect(record?.value == Array("up".utf8) && record?.isEphemeral == false)
        }
    }
}
