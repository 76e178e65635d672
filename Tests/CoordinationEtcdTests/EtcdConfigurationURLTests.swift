import Coordination
import Foundation
@testable import CoordinationEtcd
import Testing

/// Reading `etcd://` and `etcds://` URLs, without a server.
struct EtcdConfigurationURLTests {
    @Test func configurationFromURL() throws {
        let configuration = try EtcdConfiguration(url: StoreURL("etcd://u:secret@h1:2379,h2:2380/ns/app?ttl=4s&timeout=2s"))
        #expect(configuration.endpoints == ["h1:2379", "h2:2380"])
        #expect(configuration.namespace == (try Key("/ns/app")))
        #expect(configuration.sessionTTL == .seconds(4) && configuration.requestTimeout == .seconds(2))
        #expect(configuration.user == "u" && configuration.password == "secret" && !configuration.secure)
        #expect(!configuration.description.contains("secret"))
    }

    @Test func defaultsAndTLS() throws {
        let plain = try EtcdConfiguration(url: StoreURL("etcd:///ns"))
        #expect(plain.endpoints == ["127.0.0.1:2379"])
        #expect(plain.sessionTTL == EtcdConfiguration.defaultSessionTTL)
        #expect(plain.requestTimeout == EtcdConfiguration.defaultRequestTimeout)
        #expect(plain.connections == EtcdConfiguration.defaultConnections)
        let full = try EtcdConfiguration(url: StoreURL("etcd://u:secret@h1:2379,h2:2380/ns?ttl=4s&timeout=2s"))
        #expect(try EtcdConfiguration(url: StoreURL(full.description.replacingOccurrences(of: "***", with: "secret"))) == full,
            "the description reads back as the same configuration")
        let secure = try EtcdConfiguration(url: StoreURL("etcds://h1:2379/ns?cacert=/ca.pem&cert=/c.pem&key=/k.pem"))
        #expect(secure.secure && secure.caCertificate == "/ca.pem" && secure.clientCertificate == "/c.pem" && secure.clientKey == "/k.pem")
    }

    /// A missing CA file was found only once connecting (curl error 77), a key without its
    /// certificate not at all: both are refused before any connection now.
    @Test func tlsFilesAreCheckedBeforeConnecting() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("etcd-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let ca = folder.appendingPathComponent("ca.pem").path
        let cert = folder.appendingPathComponent("client.pem").path
        try Data("pem".utf8).write(to: URL(fileURLWithPath: ca))
        try Data("pem".utf8).write(to: URL(fileURLWithPath: cert))
        try EtcdConfiguration(url: StoreURL("etcds://h1/ns?cacert=\(ca)&cert=\(cert)")).checkTLSFiles()
        try EtcdConfiguration(url: StoreURL("etcds://h1/ns?cacert=\(ca)&cert=\(cert)&key=\(cert)")).checkTLSFiles()
        let cases = [
            ("cacert=\(folder.path)/missing.pem", "store URL option cacert=\(folder.path)/missing.pem: no such file"),
            ("cacert=\(folder.path)", "store URL option cacert=\(folder.path): it is a directory"),
            ("key=\(cert)", "store URL option key= is a client certificate's key, and no cert= is given; give the certificate too"),
        ]
        for (query, message) in cases {
            let error = #expect(throws: CoordinationError.self, "\(query)") {
                try EtcdConfiguration(url: StoreURL("etcds://h1/ns?" + query)).checkTLSFiles()
            }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message == message)
            #expect(throws: CoordinationError.self) { try StoreBackend.etcd.check?(StoreURL("etcds://h1/ns?" + query)) }
        }
    }

    @Test func anEndpointWithoutPortGetsTheClientPort() throws {
        #expect(try EtcdConfiguration(url: StoreURL("etcd://127.0.0.1/ns")).endpoints == ["127.0.0.1:2379"])
        #expect(try EtcdConfiguration(url: StoreURL("etcds://e1,[::1]:2380/ns")).endpoints == ["e1:2379", "[::1]:2380"])
    }

    /// etcd itself took both (a 1000-day lease; a 1 ms one raised to its minimum): the range is
    /// every backend's, so that a TTL that works on one works on all.
    @Test func refusesSessionTTLsOutsideTheRange() {
        for query in ["ttl=1ms", "ttl=0.5s", "ttl=1000d", "ttl=2d"] {
            let error = #expect(throws: CoordinationError.self, "\(query)") { try EtcdConfiguration(url: StoreURL("etcd://127.0.0.1:2379?" + query)) }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.contains("store URL option \(query) is outside the session TTLs every backend accepts, 1s to 1d") == true, "\(error?.message ?? "")")
        }
    }

    @Test func refusesOtherSchemesAndUnknownOptions() {
        for url in ["zookeeper://h1:2181", "etcd://h1:2379?tll=3s", "etcd://h1:2379?cacert=/ca.pem", "etcd://:secret@h1:2379"] {
            let error = #expect(throws: CoordinationError.self, "\(url)") { try EtcdConfiguration(url: StoreURL(url)) }
            #expect(error?.code == .invalidConfiguration)
        }
    }
}
