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
