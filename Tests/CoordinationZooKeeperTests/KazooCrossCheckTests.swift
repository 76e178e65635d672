import Coordination
import CoordinationZooKeeper
import Foundation
import CoordinationTestSupport
import Testing

/// Cross-checks with kazoo (PyPI), a ZooKeeper client no one here wrote: what the store writes,
/// kazoo reads byte for byte, and the reverse. Needs `pip install kazoo`; under CI a missing kazoo
/// fails the test instead of skipping it.
@Suite(.enabled(if: ZooKeeperTestEnvironment.runServerTests && Kazoo.runTests, Kazoo.skipReason), .serverLoadLimit)
struct KazooCrossCheckTests {
    @Test func kazooReadsWhatTheStoreWrote() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            var written: [String: Record] = [:]
            for (path, value) in Kazoo.samples {
                written[path] = try await store.create(try Key(path), value: value)
            }
            let absolute = Dictionary(uniqueKeysWithValues: written.keys.map { (store.namespace.path + $0, $0) })
            let output = try await Kazoo.run("read", Array(absolute.keys))
            let reads = try JSONDecoder().decode([String: Kazoo.Read].self, from: output)
            for (path, key) in absolute {
                let read = try #require(reads[path])
                #expect(Data(base64Encoded: read.data).map { Array($0) } == Kazoo.samples[key], "\(key)")
                #expect(read.version == written[key]!.version && read.czxid == written[key]!.createRevision)
                #expect(!read.null, "an empty value must be zero bytes, not null")
            }
        }
    }

    @Test func storeReadsWhatKazooWrote() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            var request: [String: String] = [:]
            for (path, value) in Kazoo.samples {
                request[store.namespace.path + "/from-kazoo" + path] = Data(value).base64EncodedString()
            }
            _ = try await Kazoo.run("write", request)
            for (path, value) in Kazoo.samples {
                let record = try #require(try await store.get(try Key("/from-kazoo" + path)))
                #expect(record.value == value, "\(path)")
                #expect(record.version == 0)
            }
            #expect(try await store.children(of: try Key("/from-kazoo")) == ["all-bytes", "empty", "large", "text"])
        }
    }
}

/// When the kazoo cross-checks run (the script itself is ``Kazoo`` in the test support).
extension Kazoo {
    static let available: Bool = PythonScript.canImport("kazoo")
    static let runTests = ZooKeeperTestEnvironment.isCI || available
    static let skipReason: Comment = "kazoo is not installed (pip install kazoo); skipped locally, fails under CI=true"

    static let samples: [String: [UInt8]] = [
        "/all-bytes": Array(0...255),
        "/empty": [],
        "/text/ünïcødé-名前": Array("héllo, wörld ✓".utf8),
        "/large": (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) },
    ]
}
