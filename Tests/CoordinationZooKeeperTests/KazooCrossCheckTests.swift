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

/// The kazoo side of the cross-check: a small Python script run as a child process.
enum Kazoo {
    static let available: Bool = (try? runPython(["-c", "import kazoo"], input: Data()))?.status == 0
    static let runTests = ZooKeeperTestEnvironment.isCI || available
    static let skipReason: Comment = "kazoo is not installed (pip install kazoo); skipped locally, fails under CI=true"

    /// Reads or writes every path given on stdin, as JSON `{path: base64}`, under the chroot-less
    /// absolute paths; prints the same shape for reads.
    static let script = """
        import base64, json, sys
        from kazoo.client import KazooClient
        mode, hosts = sys.argv[1], sys.argv[2]
        request = json.load(sys.stdin)
        zk = KazooClient(hosts=hosts, timeout=10)
        zk.start(timeout=10)
        try:
            if mode == "read":
                out = {}
                for path in request:
                    data, stat = zk.get(path)
                    out[path] = {"data": base64.b64encode(data or b"").decode(), "version": stat.version,
                                 "czxid": stat.czxid, "null": data is None}
                print(json.dumps(out))
            else:
                for path, value in request.items():
                    zk.create(path, base64.b64decode(value), makepath=True)
                print("{}")
        finally:
            zk.stop()
            zk.close()
        """

    struct Read: Decodable {
        var data: String
        var version: Int64
        var czxid: Int64
        var null: Bool
    }

    static func runPython(_ arguments: [String], input: Data) throws -> (status: Int32, output: Data, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let error = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, output, String(decoding: error, as: UTF8.self))
    }

    /// Runs the kazoo script off the cooperative pool (it blocks on the child process).
    static func run(_ mode: String, _ request: some Encodable) async throws -> Data {
        let input = try JSONEncoder().encode(request)
        let hosts = ZooKeeperTestEnvironment.hosts.joined(separator: ",")
        let result = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(status: Int32, output: Data, error: String), any Error>) in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runPython(["-c", script, mode, hosts], input: input) })
            }
        }
        guard result.status == 0 else {
            throw CoordinationError(.unavailable, "kazoo script failed (\(result.status)): \(result.error)")
        }
        return result.output
    }

    static let samples: [String: [UInt8]] = [
        "/all-bytes": Array(0...255),
        "/empty": [],
        "/text/ünïcødé-名前": Array("héllo, wörld ✓".utf8),
        "/large": (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) },
    ]
}
