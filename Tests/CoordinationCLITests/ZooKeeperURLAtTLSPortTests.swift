import CoordinationLocalServers
import Foundation
import Testing

/// `zookeeper://` pointed at a port that speaks TLS only, as etcd's client port does in
/// production. The server hangs up on the C client's handshake and on the probe's `srvr`, so
/// opening went on trying for the whole first-session wait (the session timeout, 10 s by default,
/// up to 30 s) and then said "no ZooKeeper session with … within 10s; is the server running?", of
/// a server that was running. It must fail at once, as an HTTP server at that port does.
@Suite("coord with a ZooKeeper URL at a TLS port", .serverLoadLimit)
struct ZooKeeperURLAtTLSPortTests {
    @Test("zookeeper:// at etcd serving TLS exits 9 well within the session timeout, in one line saying a TLS server answered", .etcdBinary)
    func tlsPortIsNamedAtOnce() async throws {
        let directory = NSTemporaryDirectory() + "coord-zk-at-tls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Self-signed: coord never gets as far as judging the certificate.
        try await ChildProcessLaunch.runToCompletion(
            "/usr/bin/openssl",
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.pem", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            in: directory)
        let cluster = EtcdCluster(
            size: 1, extraArguments: ["--cert-file", "\(directory)/server.pem", "--key-file", "\(directory)/server.key"], secure: true,
            folderPrefix: "coord-zk-at-tls-")
        defer { cluster.stopAll() }
        try await cluster.start(cluster.members[0])
        // The plain-HTTP status call cannot ask a TLS port: its process listening there is the sign.
        try await cluster.waitUntilServing(probe: { _ in true })
        let address = cluster.endpoints[0]

        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        // A session timeout of 60 s: the first session's wait for it (30 s at most, the failure before) cannot pass for promptness.
        let started = ContinuousClock.now
        let opened = try await coord.run(["--store", "zookeeper://\(address)/x?sessionTimeout=60s", "kv", "get", "/a"])
        // To coord's exit as it happened: the test's task may resume after the run much later.
        let waited = started.duration(to: opened.exitedAt)
        #expect(opened.status == 9, "\(opened.stderr)")
        #expect(opened.stderrLines.count == 1, "\(opened.stderr)")
        #expect(
            opened.stderr.hasPrefix("coord: \(address) did not answer as ZooKeeper does (a TLS server answered, as etcd serving TLS on its client port does"),
            "\(opened.stderr)")
        #expect(opened.stderr.contains("ZooKeeper's client port is usually 2181"), "\(opened.stderr)")
        #expect(waited < .seconds(15), "\(waited): the first session's wait (30 s at most), not a prompt refusal")
    }
}
