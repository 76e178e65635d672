import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// What a config file refines reaches the store: its session TTL, and its TLS files, which are
/// named relative to the file. The tests before checked the rows' sources and a relative password
/// file, never that the file's TTL is the session's or where a relative TLS file is looked for.
@Suite("coord config file refinements", .serverLoadLimit)
struct ConfigFileRefinementTests {
    /// The last line of `config check`: what was reached, with the session's TTL.
    static func connectionLine(_ output: String) -> String {
        output.split(separator: "\n").map(String.init).last { $0.hasPrefix("connection ") } ?? ""
    }

    @Test("a config file's sessionTtl is the session's TTL when the store URL names none", arguments: TestBackend.all)
    func fileTTLReachesTheSession(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            // memory:// starts empty in every coord process: the test's namespace is not there.
            let url = backend.name == "memory" ? "memory://" : try #require(backend.url(handles.namespace))
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            // 5 s: not the default (10 s), and granted as asked by both servers (ZooKeeper's
            // bounds here are 4 s to 40 s, etcd's minimum is 2 s).
            let config = try coord.write(#"{"store": "\#(url)", "sessionTtl": "5s"}"#, to: "coord.json")
            let result = try await coord.run(["--config", config, "config", "check"], timeout: .seconds(30))
            #expect(result.status == 0, "\(result.stderr)")
            let output = result.stdoutText
            #expect(output.split(separator: "\n").contains { $0.hasPrefix("session TTL ") && $0.contains("5s") && !$0.contains("not applied") }, "\(output)")
            #expect(Self.connectionLine(output).contains(", TTL 5s, "), "\(output)")
        }
    }

    @Test("a config file's relative TLS files are looked for beside it, not in the current directory")
    func relativeTLSFilesAreBesideTheFile() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let keep = try coord.write("", to: "conf/keep")
        let folder = URL(fileURLWithPath: keep).deletingLastPathComponent().path
        for name in ["ca.pem", "client.pem", "client.key"] { _ = try coord.write("not a certificate\n", to: "conf/\(name)") }
        // Nothing listens on port 1: the check fails after the table, whatever the files hold.
        let config = try coord.write(
            #"{"store": "etcds://127.0.0.1:1/app", "tlsCa": "ca.pem", "tlsCert": "client.pem", "tlsKey": "client.key"}"#,
            to: "conf/coord.json")
        let result = try await coord.run(["--config", config, "--session-ttl", "2s", "config", "check"], timeout: .seconds(30))
        #expect(result.status != 0, "no TLS server on port 1: \(result.stdoutText)")
        let rows = result.stdoutText.split(separator: "\n").map(String.init)
        for (label, name) in [("TLS CA ", "ca.pem"), ("TLS certificate ", "client.pem"), ("TLS key ", "client.key")] {
            let row = rows.first { $0.hasPrefix(label) } ?? ""
            #expect(row.contains(" \(folder)/\(name) "), "\(label)row: \(result.stdoutText)")
        }
        let store = rows.first { $0.hasPrefix("store ") } ?? ""
        #expect(store.contains("cacert=\(folder)/ca.pem"), "\(result.stdoutText)")
    }
}
