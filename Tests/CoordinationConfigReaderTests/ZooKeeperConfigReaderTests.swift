import Configuration
import Coordination
import CoordinationZooKeeper
import Testing

@Suite("ZooKeeperConfiguration(config:)")
struct ZooKeeperConfigReaderTests {
    typealias R = ConfigReaders

    @Test("every key is read")
    func values() throws {
        let configuration = try ZooKeeperConfiguration(config: R.reader([
            "hosts": R.list(["zk1:2181", "zk2:2181"]), "namespace": "/myapp", "sessionTtl": "4s",
            "username": "app", "password": R.secret("zk-s3cret"),
        ]))
        #expect(configuration.hosts == ["zk1:2181", "zk2:2181"])
        #expect(configuration.namespace == (try Key("/myapp")))
        #expect(configuration.sessionTimeout == .seconds(4))
        #expect(configuration.user == "app" && configuration.password == "zk-s3cret")
    }

    @Test("only hosts given: the plain initialiser's defaults")
    func defaults() throws {
        let configuration = try ZooKeeperConfiguration(config: R.reader(["hosts": R.list(["127.0.0.1:2181"])]))
        let plain = ZooKeeperConfiguration(hosts: ["127.0.0.1:2181"])
        #expect(configuration.namespace == .root && configuration.namespace == plain.namespace)
        #expect(configuration.sessionTimeout == ZooKeeperConfiguration.defaultSessionTimeout)
        #expect(configuration.user == nil && configuration.password == nil)
    }

    @Test("environment variables under a scope: ZOOKEEPER_HOSTS is a comma-separated list")
    func environment() throws {
        let environment = EnvironmentVariablesProvider(environmentVariables: [
            "ZOOKEEPER_HOSTS": "a:2181,b:2181", "ZOOKEEPER_SESSION_TTL": "1500ms", "ZOOKEEPER_NAMESPACE": "/env",
        ])
        let configuration = try ZooKeeperConfiguration(config: ConfigReader(provider: environment).scoped(to: "zookeeper"))
        #expect(configuration.hosts == ["a:2181", "b:2181"])
        #expect(configuration.sessionTimeout == .milliseconds(1500))
        #expect(configuration.namespace == (try Key("/env")))
    }

    @Test("missing hosts, a bad duration, a bad namespace, a wrong type: each names its key and the provider")
    func badValues() {
        R.expectInvalid([
            ("hosts", [:], "is required"),
            ("hosts", ["hosts": R.list([])], "at least one host:port"),
            ("sessionTtl", ["hosts": R.list(["h:1"]), "sessionTtl": "soon"], "'soon', not a positive duration"),
            ("sessionTtl", ["hosts": R.list(["h:1"]), "sessionTtl": "0s"], "not a positive duration"),
            ("sessionTtl", ["hosts": R.list(["h:1"]), "sessionTtl": "20d"], "is 20d, which is outside the session TTLs every backend accepts, 1s to 1d"),
            ("sessionTtl", ["hosts": R.list(["h:1"]), "sessionTtl": "750ms"], "is 750ms, which is outside the session TTLs"),
            ("hosts", ["hosts": R.list(["h:2181", ":2182"])], "endpoint ':2182' has no host; write each endpoint as host:port"),
            ("hosts", ["hosts": R.list(["h:abc"])], "endpoint 'h:abc' has port 'abc', not a number from 1 to 65535"),
            ("namespace", ["hosts": R.list(["h:1"]), "namespace": "no-slash"], "not a valid key"),
            ("hosts", ["hosts": "h:1"], "must be a list of strings"),
            ("username", ["hosts": R.list(["h:1"]), "username": 7], "must be a string"),
            ("password", ["hosts": R.list(["h:1"]), "username": "app"], "is not set, and user 'app' needs one"),
        ]) { _ = try ZooKeeperConfiguration(config: $0) }
    }

    @Test("the password never shows: not in the description, not in an error about it or about another key")
    func secretStaysSecret() throws {
        let base: [AbsoluteConfigKey: ConfigValue] = ["hosts": R.list(["h:1"]), "username": "app", "password": R.secret("zk-s3cret")]
        let configuration = try ZooKeeperConfiguration(config: R.reader(base))
        #expect(!configuration.description.contains("zk-s3cret") && configuration.description.contains("app:***@"))

        var badTTL = base
        badTTL["sessionTtl"] = "soon"
        let ttlError = try #require(R.error { _ = try ZooKeeperConfiguration(config: R.reader(badTTL)) })
        #expect(!ttlError.description.contains("zk-s3cret"))

        let noUser = try #require(R.error {
            _ = try ZooKeeperConfiguration(config: R.reader(["hosts": R.list(["h:1"]), "password": R.secret("zk-s3cret")]))
        })
        #expect(noUser.message.contains("'password'") && noUser.message.contains("'username' is not"))
        #expect(!noUser.description.contains("zk-s3cret"))

        var wrongType = base
        wrongType["password"] = ConfigValue(.int(424_242), isSecret: true)
        let typeError = try #require(R.error { _ = try ZooKeeperConfiguration(config: R.reader(wrongType)) })
        #expect(typeError.message.contains("configuration key 'password'") && !typeError.description.contains("424242"))
    }
}
