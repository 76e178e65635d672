import Logging

/// A logger that hands each message and its metadata to a closure: a test's sign that the code
/// under test reached a point no store operation shows.
public enum ObservingLogger {
    /// A logger at `level` (debug by default) whose every message goes to `observe`.
    public static func make(
        label: String = "test.observed", level: Logger.Level = .debug,
        _ observe: @escaping @Sendable (String, Logger.Metadata) -> Void
    ) -> Logger {
        var logger = Logger(label: label) { _ in Handler(observe: observe) }
        logger.logLevel = level
        return logger
    }

    private struct Handler: LogHandler {
        let observe: @Sendable (String, Logger.Metadata) -> Void
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            observe("\(event.message)", metadata.merging(event.metadata ?? [:]) { $1 })
        }
    }
}
