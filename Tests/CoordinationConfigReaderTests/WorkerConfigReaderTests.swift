import Configuration
import Coordination
import CoordinationScheduler
import Testing

@Suite("Worker.Configuration(config:)")
struct WorkerConfigReaderTests {
    typealias R = ConfigReaders

    @Test("every key is read")
    func values() throws {
        let configuration = try Worker.Configuration(config: R.reader([
            "capacity": 8, "weight": 3, "labels": R.list(["zone=a", "disk=ssd", "note=x=y"]), "gracePeriod": "30s",
            "loadDelay": "0ms", "misfireThreshold": "2s", "stabilisation": "1500ms", "finishedJobRetention": "7d",
            "finishedJobLimit": 500, "helpAfterIdle": "250ms",
        ]))
        #expect(configuration.capacity == 8 && configuration.weight == 3)
        #expect(configuration.labels == ["zone": "a", "disk": "ssd", "note": "x=y"])
        #expect(configuration.gracePeriod == .seconds(30) && configuration.loadDelay == .zero)
        #expect(configuration.misfireThreshold == .seconds(2) && configuration.stabilisation == .milliseconds(1500))
        #expect(configuration.finishedJobRetention == .seconds(7 * 86_400) && configuration.finishedJobLimit == 500)
        let forever = try Worker.Configuration(config: R.reader(["finishedJobRetention": "forever"]))
        #expect(forever.finishedJobRetention == nil, "'forever' keeps finished jobs")
        #expect(configuration.helpAfterIdle == .milliseconds(250))
        let never = try Worker.Configuration(config: R.reader(["helpAfterIdle": "never"]))
        #expect(never.helpAfterIdle == nil, "'never' keeps a worker to its share")
    }

    @Test("an empty reader gives the plain initialiser's defaults")
    func defaults() throws {
        let configuration = try Worker.Configuration(config: R.reader([:]))
        let plain = Worker.Configuration()
        #expect(configuration.capacity == plain.capacity && configuration.weight == plain.weight && configuration.labels.isEmpty)
        #expect(configuration.gracePeriod == plain.gracePeriod && configuration.loadDelay == plain.loadDelay)
        #expect(configuration.misfireThreshold == plain.misfireThreshold && configuration.stabilisation == plain.stabilisation)
        #expect(configuration.finishedJobRetention == plain.finishedJobRetention && plain.finishedJobRetention == .seconds(86_400))
        #expect(configuration.finishedJobLimit == plain.finishedJobLimit && plain.finishedJobLimit == 10_000)
        #expect(configuration.helpAfterIdle == plain.helpAfterIdle && plain.helpAfterIdle == .seconds(2))
    }

    @Test("environment variables under a scope: WORKER_LABELS is comma-separated k=v; a bad one names the variable")
    func environment() throws {
        let environment = EnvironmentVariablesProvider(environmentVariables: [
            "WORKER_CAPACITY": "2", "WORKER_LABELS": "zone=b,gpu=1", "WORKER_GRACE_PERIOD": "1m",
        ])
        let configuration = try Worker.Configuration(config: ConfigReader(provider: environment).scoped(to: "worker"))
        #expect(configuration.capacity == 2 && configuration.labels == ["zone": "b", "gpu": "1"])
        #expect(configuration.gracePeriod == .seconds(60))

        let bad = ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: ["WORKER_CAPACITY": "lots"]))
        let error = try #require(R.error { _ = try Worker.Configuration(config: bad.scoped(to: "worker")) })
        #expect(error.message.contains("configuration key 'capacity'") && error.message.contains("WORKER_CAPACITY"), "\(error.message)")

        let twice = ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: ["WORKER_LABELS": "zone=a,zone=b"]))
        let repeated = try #require(R.error { _ = try Worker.Configuration(config: twice.scoped(to: "worker")) })
        #expect(
            repeated.message.contains("configuration key 'labels'") && repeated.message.contains("EnvironmentVariablesProvider")
                && repeated.message.contains("gives 'zone' twice (zone=a and zone=b)"), "\(repeated.message)")
    }

    @Test("bad values name their key and the provider")
    func badValues() {
        R.expectInvalid([
            ("capacity", ["capacity": 0], "at least 1, got 0"),
            ("capacity", ["capacity": "lots"], "must be a whole number"),
            ("weight", ["weight": -2], "at least 1, got -2"),
            ("capacity", ["capacity": 1025], "between 1 and 1024, got 1025"),
            ("weight", ["weight": 1001], "between 1 and 1000, got 1001"),
            ("labels", ["labels": R.list(["zone"])], "'zone', which is not key=value"),
            ("labels", ["labels": R.list(["=a"])], "'=a', which is not key=value: it has no key before '='"),
            ("labels", ["labels": R.list(["zone="])], "'zone=', which is not key=value: it has no value after '='"),
            // Refused as coord worker --labels refuses it, rather than keeping the last value.
            ("labels", ["labels": R.list(["zone=a", "disk=ssd", "zone=b"])], "gives 'zone' twice (zone=a and zone=b)"),
            ("labels", ["labels": R.list(["zone=a", " disk=ssd"])], "has ' disk=ssd', with white space around its key or value"),
            ("gracePeriod", ["gracePeriod": "-1s"], "not a duration"),
            ("stabilisation", ["stabilisation": 5], "must be a duration such as 10s"),
            ("finishedJobRetention", ["finishedJobRetention": "always"], "not a duration"),
            ("finishedJobLimit", ["finishedJobLimit": -1], "at least 0, got -1"),
            ("helpAfterIdle", ["helpAfterIdle": "soon"], "is 'soon', not a duration such as 2s or 500ms, nor 'never'"),
        ]) { _ = try Worker.Configuration(config: $0) }
    }
}
