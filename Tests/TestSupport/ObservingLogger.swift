import Logging

/// A logger that hands each message to a closure: a test's sign that the code under test reached
/// a point no store operation shows, or its record of what was logged (``CapturedLogs``).
public enum ObservingLogger {
    /// One message as logged.
    public struct Message: Sendable {
        public let label: String
        public let level: Logger.Level
        public let text: String
        /// The logger's metadata merged with the message's.
        public let metadata: Logger.Metadata
    }

    /// A logger at `level` (debug by default) whose every message goes to `observe`.
    public static func make(
        label: String = "test.observed", level: Logger.Level = .debug, _ observe: @escaping @Sendable (Message) -> Void
    ) -> Logger {
        var logger = Logger(label: label) { label in Handler(label: label, observe: observe) }
        logger.logLevel = level
        return logger
    }

    private struct Handler: LogHandler {
        let label: String
        let observe: @Sendable (Message) -> Void
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            observe(Message(label: label, level: event.level, text: "\(event.message)", metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
        }
    }
}
