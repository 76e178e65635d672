import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// Keys another tool wrote on etcd without their parents (`/services/api/host` with no
/// `/services`, as etcdctl writes them): `kv ls` said nothing of them, and `kv ls /services` only
/// "no such key", while `kv tree /` showed them.
@Suite("coord kv on etcd keys written without their parents", .serverLoadLimit)
struct KVUnwrittenParentTests {
    @Test("kv ls notes the names it leaves out; kv get, ls and tree of such a name say which keys lie beneath it")
    func namesWithoutKeysAreNoted() async throws {
        let handles = try TestHandles(.etcd)
        try await TestHandles.closing(handles) {
            let store = try await handles.open()
            for path in ["/services/api/host", "/services/api/port", "/services/db/host", "/top"] {
                _ = try await store.create(try Key(path), value: [1], mode: .persistent)
            }
            for path in ["/services/api", "/services/db", "/services"] {
                try await ParentlessSourceKeyTests.deleteAlone(try Key(path), in: handles.namespace)
            }
            let listing = try #require(store as? any UnwrittenParentListing)
            #expect(try await listing.namesBeneath(.root) == NamesBeneath(keyExists: true, keys: ["top"], unwritten: ["services"]))
            #expect(try await listing.namesBeneath(try Key("/services")) == NamesBeneath(keyExists: false, keys: [], unwritten: ["api", "db"]))
            #expect(
                try await listing.namesBeneath(try Key("/services/api")) == NamesBeneath(keyExists: false, keys: ["host", "port"], unwritten: []))
            #expect(try await listing.namesBeneath(try Key("/top")) == NamesBeneath(keyExists: true, keys: [], unwritten: []))
            #expect(try await listing.namesBeneath(try Key("/nothing")) == NamesBeneath(keyExists: false, keys: [], unwritten: []))

            let url = try #require(TestBackend.etcd.url(handles.namespace))
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let root = try await coord.run(["--store", url, "kv", "ls", "/"])
            #expect(root.status == 0 && root.stdoutText == "top\n", "\(root.stderr)")
            #expect(root.stderr.hasPrefix("coord: note: not listed, as no key has this name, though keys lie beneath it"), "\(root.stderr)")
            #expect(root.stderr.contains(": /services; coord kv tree / shows them"), "\(root.stderr)")
            let beneath = [
                "/services": "at or under /services/api, /services/db: coord kv tree / shows them",
                "/services/api": "at or under /services/api/host, /services/api/port: coord kv tree / shows them",
            ]
            for (key, named) in beneath {
                for command in ["ls", "get", "tree"] {
                    let missing = try await coord.run(["--store", url, "kv", command, key])
                    #expect(missing.status == 2, "\(command) \(key): \(missing.stderr)")
                    #expect(
                        missing.stderr.hasPrefix("coord: no such key \(key), though keys lie beneath it") && missing.stderr.contains(named),
                        "\(command) \(key): \(missing.stderr)")
                }
            }
            // Nothing to note: nothing said.
            let plain = try await coord.run(["--store", url, "kv", "ls", "/top"])
            #expect(plain.status == 0 && plain.stdoutText.isEmpty && plain.stderr.isEmpty, "\(plain.stderr)")
            let absent = try await coord.run(["--store", url, "kv", "get", "/nothing"])
            #expect(absent.status == 2 && absent.stderr == "coord: no such key /nothing\n", "\(absent.stderr)")
        }
    }
}
