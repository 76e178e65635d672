import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// Values given to `coord kv` other than as an argument.
@Suite("coord kv values from stdin", .serverLoadLimit)
struct KVValueInputTests {
    /// `kv set` took its value as an argument only: a binary value, or one past the kernel's
    /// 128 KiB limit on one argument, could be written by `kv put` but never only at a version.
    @Test("kv set without a value reads stdin byte for byte, and still checks --if-version", arguments: SchedulerProcessTests.servers)
    func setReadsStdin(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            let store = try await handles.open()
            let key = try Key("/logo")
            _ = try await store.create(key, value: Array("old".utf8), mode: .persistent)
            let url = try #require(backend.url(handles.namespace))
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let binary: [UInt8] = [0, 1, 0xFF, 0x0A] + Array(repeating: 0x61, count: 200_000)

            let stale = try await coord.run(["--store", url, "kv", "set", "/logo", "--if-version", "3"], input: binary)
            #expect(stale.status == 4, "\(stale.stderr)")
            #expect(try await store.get(key)?.value == Array("old".utf8), "a refused set writes nothing")

            let set = try await coord.run(["--store", url, "kv", "set", "/logo", "--if-version", "0"], input: binary)
            #expect(set.status == 0, "\(set.stderr)")
            #expect(set.stdoutText == "1\n", "the new version: \(set.stdoutText)")
            #expect(try await store.get(key)?.value == binary)
        }
    }

    /// At a terminal, `kv put /key` without a value waited for input without a word, looking hung.
    @Test("kv put reading its value from a terminal says so on stderr and how to end it; from a pipe it says nothing", arguments: SchedulerProcessTests.servers)
    func terminalInputIsAnnounced(backend: TestBackend) async throws {
        try await CoordProcess.onFreshNamespace(of: backend) { store, url, coord in
            let hint = "coord: reading the value of /typed from standard input; end it with Ctrl-D at the start of a line (or give the value after the key)"

            let piped = try await coord.run(["--store", url, "kv", "put", "/piped"], input: Array("hi\n".utf8))
            #expect(piped.status == 0 && piped.stderr.isEmpty, "\(piped.stderr)")
            #expect(try await store.get(Key("/piped"))?.value == Array("hi\n".utf8))

            // util-linux script runs coord on a pseudo-terminal, passing on what is typed: a line, then Ctrl-D.
            let script = URL(fileURLWithPath: "/usr/bin/script")
            try #require(FileManager.default.isExecutableFile(atPath: script.path), "util-linux script gives coord a terminal for stdin")
            let command = "'\(CoordProcess.binary.path)' --store '\(url)' kv put /typed"
            let typed = try await coord.run(["-q", "-e", "-c", command, "/dev/null"], input: Array("hello\n\u{4}".utf8), program: script)
            #expect(typed.status == 0, "\(typed.stdoutText) \(typed.stderr)")
            // The terminal joins stderr to stdout, and ends its lines with \r\n.
            #expect(typed.stdoutText.contains(hint + "\r\n"), "\(typed.stdoutText)")
            #expect(try await store.get(Key("/typed"))?.value == Array("hello\n".utf8))
        }
    }
}
