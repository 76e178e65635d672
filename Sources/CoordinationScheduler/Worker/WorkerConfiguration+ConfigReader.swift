public import Configuration
public import Coordination
import CoordinationConfigReading

extension Worker.Configuration {
    /// Reads a worker's settings from a swift-configuration reader (environment variables, a JSON
    /// file, …); every key is optional and defaults to the plain initialiser's value.
    ///
    /// ## Configuration keys
    /// - `capacity` (int, default `4`, from 1 to 1024): how many handlers run at once.
    /// - `weight` (int, default `1`, from 1 to 1000): the share of planned work for the weighted strategy.
    /// - `labels` (string list of `key=value`, default none): what jobs may require of the worker,
    ///   such as `["zone=a", "disk=ssd"]` (`zone=a,disk=ssd` in an environment variable); a key
    ///   given twice is refused, as `coord worker --labels` refuses it.
    /// - `gracePeriod` (string, default `10s`): how long a graceful shutdown waits for running runs.
    /// - `loadDelay` (string, default `20ms`): how long a fully busy worker waits before claiming
    ///   under the load-aware `compete` strategy.
    /// - `misfireThreshold` (string, default `500ms`): a fire time found later than this is a misfire.
    /// - `stabilisation` (string, default `500ms`): how long membership must stay unchanged before
    ///   placement is rebalanced.
    /// - `finishedJobRetention` (string, default `1d`): while this worker leads, how long a finished
    ///   one-shot job is kept, with its history, before it is removed; `forever` keeps it.
    /// - `finishedJobLimit` (int, default `10000`, at least 0): while this worker leads, the most
    ///   finished one-shot jobs kept; beyond it, the ones that finished first are removed early.
    /// - `helpAfterIdle` (string, default `2s`): how long a worker with a free slot and nothing to
    ///   claim in its share waits before it helps with every bucket's work; `never` keeps it to its share.
    ///
    /// Durations are written `500ms`, `10s`, `2m`. Scope the reader to read them under a prefix:
    /// `config.scoped(to: "worker")` reads `worker.capacity` (`WORKER_CAPACITY` from the environment).
    /// - Throws: `invalidConfiguration` naming the key of a bad value.
    public init(config: ConfigReader) throws(CoordinationError) {
        let defaults = Self()
        let pairs = try config.stringListSetting("labels") ?? []
        let labels: [String: String]
        do {
            // The command line's rule (coord worker --labels): a key given twice is refused, not
            // left to its last value.
            labels = try LabelPairs.labels(pairs)
        } catch {
            switch error {
            case .malformed(let pair, let why):
                throw config.invalidSetting("labels", "has '\(pair)', which is not key=value: it \(why)")
            case .repeated(let key, let first, let second):
                throw config.invalidSetting("labels", "gives '\(key)' twice (\(first) and \(second)); a label has one value: give it once")
            case .spaced(let pair, let written):
                throw config.invalidSetting(
                    "labels", "has '\(pair)', with white space around its key or value, which would be part of the label: write '\(written)'")
            }
        }
        self.init(
            capacity: try config.intSetting("capacity", in: Self.capacities) ?? defaults.capacity,
            weight: try config.intSetting("weight", in: Self.weights) ?? defaults.weight,
            labels: labels,
            gracePeriod: try config.durationSetting("gracePeriod", allowZero: true) ?? defaults.gracePeriod,
            loadDelay: try config.durationSetting("loadDelay", allowZero: true) ?? defaults.loadDelay,
            misfireThreshold: try config.durationSetting("misfireThreshold", allowZero: true) ?? defaults.misfireThreshold,
            stabilisation: try config.durationSetting("stabilisation", allowZero: true) ?? defaults.stabilisation,
            finishedJobRetention: try Self.retention(config) ?? defaults.finishedJobRetention,
            finishedJobLimit: try config.intSetting("finishedJobLimit", minimum: 0) ?? defaults.finishedJobLimit,
            helpAfterIdle: try Self.helpAfterIdle(config) ?? defaults.helpAfterIdle)
    }

    /// `helpAfterIdle`: a duration, or `never` (`.some(nil)`); `nil` when not set.
    private static func helpAfterIdle(_ config: ConfigReader) throws(CoordinationError) -> Duration?? {
        guard let text = try config.stringSetting("helpAfterIdle") else { return nil }
        if text == "never" { return .some(nil) }
        guard let duration = DurationText.parse(text) else {
            throw config.invalidSetting("helpAfterIdle", "is '\(text)', not a duration such as 2s or 500ms, nor 'never'")
        }
        return .some(duration)
    }

    /// `finishedJobRetention`: a duration, or `forever` (`.some(nil)`); `nil` when not set.
    private static func retention(_ config: ConfigReader) throws(CoordinationError) -> Duration?? {
        guard let text = try config.stringSetting("finishedJobRetention") else { return nil }
        guard let retention = Self.retention(text) else {
            throw config.invalidSetting("finishedJobRetention", "is '\(text)', not a duration such as 1d or 12h, nor 'forever'")
        }
        return retention
    }
}
