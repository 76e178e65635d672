import Foundation
import Coordination
import CoordinationTestSupport
import Testing

/// `coord bench` on the embedded store, and beside its peer on each real server: it runs every
/// loop and prints its table. Only the table's shape is checked, never a figure.
@Suite("coord bench", .serverLoadLimit)
struct BenchCommandTests {
    @Test("coord bench on memory:// with no peer prints a row per measure and exits 0")
    func memory() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run([
            "bench", "--store", "memory://", "--operations", "50", "--duration", "0.2s", "--peer", "none", "--claims", "8",
        ])
        #expect(result.stderr == "")
        #expect(result.status == 0)
        for measure in ["create p50", "get p99", "set p50", "delete p99", "pipelined get", "claims (8 no-op jobs"] {
            #expect(result.stdoutText.contains(measure), "a row for \(measure)")
        }
        #expect(result.stdoutText.contains("cores "))
        #expect(result.stdoutText.contains("memory://"))
        #expect(result.stdoutText.range(of: #"; \d+ lost\)"#, options: .regularExpression) != nil, "the claims row counts lost claims")
    }

    @Test("--claim-workers, --claim-capacity and --claim-warm-up shape the claims measure, and refuse what cannot be")
    func claimWorkersAndCapacity() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run([
            "bench", "--store", "memory://", "--operations", "1", "--duration", "0.1s", "--peer", "none", "--claims", "20",
            "--claim-workers", "2", "--claim-capacity", "8", "--claim-warm-up", "5",
        ])
        #expect(result.status == 0)
        #expect(result.stdoutText.contains("claims (20 no-op jobs after 5 warm-up, 2 workers x 8 slots;"), "\(result.stdoutText)")
        let cold = try await coord.run([
            "bench", "--store", "memory://", "--operations", "1", "--duration", "0.1s", "--peer", "none", "--claims", "3",
            "--claim-warm-up", "0",
        ])
        #expect(cold.status == 0)
        #expect(cold.stdoutText.contains("claims (3 no-op jobs, 4 workers x 4 slots;"), "\(cold.stdoutText)")
        for (option, value, problem) in [
            ("--claim-workers", "0", "must be between 1 and 64"), ("--claim-capacity", "0", "must be between 1 and 1024"),
            ("--claim-warm-up", "-1", "must be between 0 and 100000"),
        ] {
            let refused = try await coord.run(["bench", "--store", "memory://", option, value])
            #expect(refused.status == 64)
            #expect(refused.stderr.contains("\(option) \(problem)"), "\(refused.stderr)")
        }
    }

    @Test("--markdown prints a Markdown table")
    func markdown() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run([
            "bench", "--store", "memory://", "--operations", "10", "--duration", "0.1s", "--peer", "none", "--markdown",
        ])
        #expect(result.status == 0)
        #expect(result.stdoutText.contains("| measure | coord | peer | ratio |"))
        #expect(result.stdoutText.contains("|---|---:|---:|---:|"))
    }

    /// The peer (kazoo, etcd3gw) is driven chunk by chunk between coord's loops: every row
    /// has its figure and a ratio, and the run leaves nothing behind.
    @Test("coord bench on a real server runs its peer interleaved and prints its figures", arguments: SchedulerProcessTests.servers)
    func withPeer(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let peer = backend.name == "zookeeper" ? "kazoo" : "etcd3gw"
        try await PythonScript.require(peer, install: "compose/native installs it")
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(backend.url(handles.namespace))
        // Usually 10-20 s; a slow or throttled machine can take several times that.
        let result = try await coord.run(["bench", "--store", url, "--operations", "120", "--duration", "0.3s"], timeout: .seconds(300))
        #expect(result.status == 0, "\(result.stderr)")
        let rows = result.stdoutText.split(separator: "\n").filter {
            ["create p", "get p", "set p", "delete p", "pipelined"].contains(where: $0.hasPrefix)
        }
        // Each server adds 8 rows of coord against the C client's loop (libzookeeper, libcurl),
        // 16 of coord's loop on the completion executor against it and against the peer, and 8
        // of the C client's loop against the peer.
        #expect(rows.count == 41, "\(result.stdoutText)")
        #expect(rows.filter { $0.contains("coord on its completion executor") }.count == 16, "\(result.stdoutText)")
        #expect(rows.filter { $0.contains("sync loop in coord's column") }.count == 8, "\(result.stdoutText)")
        for row in rows {
            #expect(row.hasSuffix("x") && !row.contains(" - "), "a figure and a ratio: \(row)")
        }
        #expect(result.stdoutText.contains("ratio = \(peer) / coord"))
        let store = try await handles.open()
        #expect(try await store.children(of: .root).isEmpty, "the bench namespace is deleted afterwards")
        await handles.closeAll()
    }

    /// A peer that dies (here a `python3` that only complains) fails the bench with its own
    /// last words, and leaves nothing behind on the server.
    @Test func aFailingPeerIsReportedWithItsMessage() async throws {
        let handles = try TestHandles(.zookeeper)
        var coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let fake = try coord.write("#!/bin/sh\necho 'ModuleNotFoundError: no kazoo here' >&2\nexit 3\n", to: "bin/python3")
        chmod(fake, 0o755)
        coord.environment["PATH"] = coord.directory.appendingPathComponent("bin").path + ":" + (coord.environment["PATH"] ?? "")
        let url = try #require(TestBackend.zookeeper.url(handles.namespace))
        let result = try await coord.run(["bench", "--store", url, "--operations", "20", "--duration", "0.1s"])
        #expect(result.status == 1, "any other failure, not 9: the store was reached\n\(result.stderr)")
        #expect(result.stderr.contains("the kazoo peer failed"), "\(result.stderr)")
        #expect(result.stderr.contains("no kazoo here"), "\(result.stderr)")
        let store = try await handles.open()
        #expect(try await store.children(of: .root).isEmpty, "the bench namespace is deleted afterwards")
        await handles.closeAll()
    }

    /// A peer module python3 cannot import (here a `kazoo` on PYTHONPATH that fails to import,
    /// as a missing one does) is named with the command that installs it and the way round it.
    /// Status 1, any other failure: it was 9, which says the store could not be reached.
    @Test func aMissingPeerModuleIsNamedWithTheFix() async throws {
        let handles = try TestHandles(.zookeeper)
        var coord = try CoordProcess()
        defer { coord.removeDirectory() }
        _ = try coord.write("raise ModuleNotFoundError(\"No module named 'kazoo'\")\n", to: "python/kazoo/__init__.py")
        coord.environment["PYTHONPATH"] = coord.directory.appendingPathComponent("python").path
        let url = try #require(TestBackend.zookeeper.url(handles.namespace))
        let result = try await coord.run(["bench", "--store", url, "--operations", "20", "--duration", "0.1s"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdoutText == "", "no table of zeros")
        #expect(result.stderr.contains("the kazoo peer failed"), "\(result.stderr)")
        #expect(result.stderr.contains("No module named 'kazoo'"), "\(result.stderr)")
        #expect(result.stderr.contains("python3 -m pip install kazoo"), "\(result.stderr)")
        #expect(result.stderr.contains("--peer none"), "\(result.stderr)")
        let store = try await handles.open()
        #expect(try await store.children(of: .root).isEmpty, "the bench namespace is deleted afterwards")
        await handles.closeAll()
    }

    /// No python3 on PATH at all: Subprocess cannot start the peer.
    @Test func noPythonIsNamedWithStatusOne() async throws {
        let handles = try TestHandles(.zookeeper)
        var coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let empty = coord.directory.appendingPathComponent("empty-bin")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        coord.environment["PATH"] = empty.path
        let url = try #require(TestBackend.zookeeper.url(handles.namespace))
        let result = try await coord.run(["bench", "--store", url, "--operations", "20", "--duration", "0.1s", "--peer", "kazoo"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("python3 could not run the kazoo peer"), "\(result.stderr)")
        #expect(result.stderr.contains("--peer none measures coord alone"), "\(result.stderr)")
        let store = try await handles.open()
        #expect(try await store.children(of: .root).isEmpty, "the bench namespace is deleted afterwards")
        await handles.closeAll()
    }

    @Test("a peer that cannot talk to the store is refused with status 64, naming the store it needs and the way out")
    func wrongPeer() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        for (peer, needs) in [("kazoo", "zookeeper://"), ("etcd3gw", "etcd://")] {
            let result = try await coord.run(["bench", "--store", "memory://", "--peer", peer])
            #expect(result.status == 64)
            #expect(
                result.stderr.hasPrefix("coord: --peer \(peer) talks to \(needs) stores only, not memory://: use --peer none"),
                "\(result.stderr)")
        }
    }

    /// Every bad value is refused by name before anything is measured or opened.
    @Test("bad values of bench's own options are usage errors naming the option", arguments: [
        (["--operations", "0"], "--operations must be between 1 and 1000000, got 0\n"),
        (["--operations", "-5"], "--operations must be between 1 and 1000000, got -5\n"),
        (["--in-flight", "0"], "--in-flight must be between 1 and 1024, got 0\n"),
        // Above the limits, the reason: 10^12 operations asked for 16 TB of samples (a crash), and
        // 10^8 in flight created as many keys before the loop began.
        (["--operations", "1000000000000"], "--operations must be between 1 and 1000000, got 1000000000000: every operation's time is kept"),
        (["--in-flight", "100000000"], "--in-flight must be between 1 and 1024, got 100000000: each is a key created first, and a thread of the peer"),
        (["--in-flight", "1025"], "--in-flight must be between 1 and 1024, got 1025: "),
        (["--claims", "100001"], "--claims must be between 0 and 100000, got 100001: each job is several keys"),
        (["--claim-warm-up", "1000000000"], "--claim-warm-up must be between 0 and 100000, got 1000000000: "),
        (["--claim-workers", "65"], "--claim-workers must be between 1 and 64, got 65: each is a store handle of its own"),
        (["--claim-capacity", "0"], "--claim-capacity must be between 1 and 1024, got 0\n"),
        (["--claim-capacity", "1000000"], "--claim-capacity must be between 1 and 1024, got 1000000: "),
        (["--watchers", "10001"], "--watchers must be between 0 and 10000, got 10001: "),
        (["--duration", "0"], "--duration 0 "),
        (["--duration", "soon"], "--duration soon "),
        (["--duration", "1e3ms"], "--duration 1e3ms is not a duration; write one number and one unit"),
        // Refused at once, not first read as an option with a hint to write --duration=-1.
        (["--duration", "-1"], "--duration -1 is negative; "),
        (["--claims", "-1"], "--claims must be between 0 and 100000, got -1\n"),
        (["--watchers", "-1"], "--watchers must be between 0 and 10000, got -1\n"),
        (["--peer", "zkpython"], "--peer must be auto, kazoo, etcd3gw or none, not 'zkpython'"),
    ])
    func badValues(_ arguments: [String], _ problem: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["bench", "--store", "memory://"] + arguments)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("coord: " + problem), "\(result.stderr)")
        #expect(result.stdoutText == "")
    }
}
