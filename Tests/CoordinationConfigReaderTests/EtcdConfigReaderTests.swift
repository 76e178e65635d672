import Configuration
import Coordination
import CoordinationEtcd
import CoordinationTestSupport
import Logging
import Testing

@Suite("EtcdConfiguration(config:) and EtcdStore(configuration:)", .serverLoadLimit)
struct EtcdConfigReaderTests {
    typealias R = ConfigReaders

    @Test("every key is read")
    func values() throws {
        let configuration = try EtcdConfiguration(config: R.reader([
            "endpoints": R.list(["e1:2379", "e2:2379"]), "namespace": "/myapp", "sessionTtl": "3s",
            "username": "app", "password": R.secret("etcd-s3cret"), "secure": true,
            "tlsCa": "/tls/ca.pem", "tlsCert": "/tls/client.pem", "tlsKey": "/tls/client.key",
            "requestTimeout": "2500ms", "connections": 4,
        ]))
        #expect(configuration.endpoints == ["e1:2379", "e2:2379"])
        #expect(configuration.namespace == (try Key("/myapp")))
        #expect(configuration.sessionTTL == .seconds(3))
        #expect(configuration.user == "app" && configuration.password == "etcd-s3cret")
        #expect(configuration.secure)
        #expect(configuration.caCertificate == "/tls/ca.pem" && configuration.clientCertificate == "/tls/client.pem")
        #expect(configuration.clientKey == "/tls/client.key")
        #expect(configuration.requestTimeout == .milliseconds(2500))
        #expect(configuration.connections == 4)
    }

    @Test("only endpoints given: the plain initialiser's defaults; a TLS file alone turns on https")
    func defaults() throws {
        let configuration = try EtcdConfiguration(config: R.reader(["endpoints": R.list(["127.0.0.1:2379"])]))
        #expect(configuration == EtcdConfiguration(endpoints: ["127.0.0.1:2379"]))
        #expect(!configuration.secure && configuration.sessionTTL == .seconds(10) && configuration.connections == EtcdConfiguration.defaultConnections)
        #expect(configuration.description == "etcd://127.0.0.1:2379?ttl=10s")

        let tls = try EtcdConfiguration(config: R.reader(["endpoints": R.list(["h:1"]), "tlsCa": "/ca.pem"]))
        #expect(tls.secure && tls.description == "etcds://h:1?ttl=10s&cacert=/ca.pem")
    }

    @Test("environment variables under a scope: ETCD_ENDPOINTS is a comma-separated list")
    func environment() throws {
        let environment = EnvironmentVariablesProvider(environmentVariables: [
            "ETCD_ENDPOINTS": "a:2379,b", "ETCD_SESSION_TTL": "5s", "ETCD_CONNECTIONS": "8", "ETCD_SECURE": "false",
        ])
        let configuration = try EtcdConfiguration(config: ConfigReader(provider: environment).scoped(to: "etcd"))
        #expect(configuration.endpoints == ["a:2379", "b:2379"])
        #expect(configuration.sessionTTL == .seconds(5) && configuration.connections == 8 && !configuration.secure)
    }

    @Test("bad values name their key and the provider")
    func badValues() {
        let one: [AbsoluteConfigKey: ConfigValue] = ["endpoints": R.list(["h:1"])]
        R.expectInvalid([
            ("endpoints", [:], "is required"),
            ("endpoints", ["endpoints": R.list(["h:99999"])], "endpoint 'h:99999' has port '99999', not a number from 1 to 65535"),
            ("sessionTtl", one.merging(["sessionTtl": "1ms"]) { $1 }, "is 1ms, which is outside the session TTLs every backend accepts, 1s to 1d"),
            ("connections", one.merging(["connections": 0]) { $1 }, "at least 1, got 0"),
            ("connections", one.merging(["connections": "many"]) { $1 }, "must be a whole number"),
            ("requestTimeout", one.merging(["requestTimeout": "1 fortnight"]) { $1 }, "not a positive duration"),
            ("secure", one.merging(["secure": "maybe"]) { $1 }, "must be true or false"),
            ("tlsCert", one.merging(["secure": false, "tlsCert": "/c.pem"]) { $1 }, "only when 'secure' is true"),
        ]) { _ = try EtcdConfiguration(config: $0) }
    }

    @Test("the password never shows: not in the description, not in an error")
    func secretStaysSecret() throws {
        let base: [AbsoluteConfigKey: ConfigValue] = [
            "endpoints": R.list(["h:1"]), "username": "app", "password": R.secret("etcd-s3cret"),
        ]
        let configuration = try EtcdConfiguration(config: R.reader(base))
        #expect(configuration.description == "etcd://app:***@h:1?ttl=10s")

        let badTimeout = try #require(R.error {
            _ = try EtcdConfiguration(config: R.reader(base.merging(["requestTimeout": "soon"]) { $1 }))
        })
        #expect(!badTimeout.description.contains("etcd-s3cret"))
        let noUser = try #require(R.error {
            _ = try EtcdConfiguration(config: R.reader(["endpoints": R.list(["h:1"]), "password": R.secret("etcd-s3cret")]))
        })
        #expect(noUser.message.contains("'password'") && !noUser.description.contains("etcd-s3cret"))
        let wrongType = try #require(R.error {
            _ = try EtcdConfiguration(config: R.reader(base.merging(["password": ConfigValue(.int(424_242), isSecret: true)]) { $1 }))
        })
        #expect(wrongType.message.contains("configuration key 'password'") && !wrongType.description.contains("424242"))
    }

    @Test("EtcdStore(configuration:) opens the shared etcd under the configured namespace")
    func opensStore() async throws {
        let handles = try TestHandles(.etcd)
        let configuration = try EtcdConfiguration(config: R.reader([
            "endpoints": R.list(TestEnvironment.etcdEndpoints), "namespace": ConfigValue(.string(handles.namespace.path), isSecret: false),
            "sessionTtl": "3s", "connections": 2,
        ]))
        let store = try await EtcdStore(configuration: configuration, logger: Logger(label: "test.etcd.config"))
        #expect(store.namespace == handles.namespace)
        _ = try await store.put(try Key("/from-config"), value: [0, 1, 0xFF])
        await store.close()
        let other = try await handles.open()
        #expect(try await other.get(try Key("/from-config"))?.value == [0, 1, 0xFF])
        await handles.closeAll()
    }
}
