import Configuration
import Coordination
import CoordinationEtcd
import CoordinationScheduler
import CoordinationZooKeeper
import Testing

/// The values at the very edge of what each setting accepts: a bound is inclusive, zero is taken
/// where the README says it may be, and a credential that is there but empty counts as missing.
/// Each of these passed every other test with its check broken (the cfgmut mutation audit).
@Suite("init(config:) at the edges of each setting")
struct ConfigReaderEdgeValueTests {
    typealias R = ConfigReaders

    @Test("a bound is a value the setting takes: capacity 1 and 1024, weight 1 and 1000, connections 1, finishedJobLimit 0")
    func boundsAreInclusive() throws {
        let low = try Worker.Configuration(config: R.reader(["capacity": 1, "weight": 1, "finishedJobLimit": 0]))
        #expect(low.capacity == 1 && low.weight == 1 && low.finishedJobLimit == 0)
        let high = try Worker.Configuration(config: R.reader(["capacity": 1024, "weight": 1000]))
        #expect(high.capacity == 1024 && high.weight == 1000)
        let etcd = try EtcdConfiguration(config: R.reader(["endpoints": R.list(["h:1"]), "connections": 1]))
        #expect(etcd.connections == 1)
    }

    @Test("a worker's durations may be zero: no grace, no load delay, no misfire threshold, no stabilisation")
    func workerDurationsMayBeZero() throws {
        let configuration = try Worker.Configuration(config: R.reader([
            "gracePeriod": "0s", "loadDelay": "0ms", "misfireThreshold": "0s", "stabilisation": "0ms",
        ]))
        #expect(configuration.gracePeriod == .zero && configuration.loadDelay == .zero)
        #expect(configuration.misfireThreshold == .zero && configuration.stabilisation == .zero)
    }

    @Test("a password beside an empty username is refused, naming the password and never showing it")
    func passwordNeedsANonEmptyUser() {
        let cases: [(String, (ConfigReader) throws -> Void)] = [
            ("hosts", { _ = try ZooKeeperConfiguration(config: $0) }),
            ("endpoints", { _ = try EtcdConfiguration(config: $0) }),
        ]
        for (serversKey, build) in cases {
            let values: [AbsoluteConfigKey: ConfigValue] = [
                AbsoluteConfigKey([serversKey]): R.list(["h:1"]), "username": "", "password": R.secret("edge-s3cret"),
            ]
            guard let error = R.error({ try build(R.reader(values)) }) else { continue }
            #expect(error.message.contains("configuration key 'password'") && error.message.contains("'username' is not"), "\(error.message)")
            #expect(!error.description.contains("edge-s3cret"))
        }
    }

    /// The README: "a user name needs a password that is not empty … on ZooKeeper and etcd
    /// alike". EtcdConfiguration took all three, and ZooKeeperConfiguration an empty user name,
    /// which logged in as the digest user '' and locked the keys it created to that user.
    @Test("a user with no password or an empty one, or an empty user name, is refused on ZooKeeper and etcd alike, naming the key")
    func credentialsGoInPairs() {
        let builders: [(String, (ConfigReader) throws -> Void)] = [
            ("hosts", { _ = try ZooKeeperConfiguration(config: $0) }),
            ("endpoints", { _ = try EtcdConfiguration(config: $0) }),
        ]
        for (serversKey, build) in builders {
            let servers = AbsoluteConfigKey([serversKey])
            R.expectInvalid([
                ("password", [servers: R.list(["h:1"]), "username": "app", "password": R.secret("")], "is empty, and user 'app' needs one"),
                ("password", [servers: R.list(["h:1"]), "username": "app"], "is not set, and user 'app' needs one"),
                ("username", [servers: R.list(["h:1"]), "username": ""], "is empty; give the user name, or leave out both 'username' and 'password'"),
            ], build)
        }
    }
}
