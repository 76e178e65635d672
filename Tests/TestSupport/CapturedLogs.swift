import Logging
import Synchronization

/// A logger that keeps every message with its metadata, at every level, so a test can search
/// what a library logged (for a password that must never appear, say).
public final class CapturedLogs: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    /// A logger at `trace` level that writes here.
    public func logger(label: String = "test.captured") -> Logger {
        var logger = Logger(label: label) { label in Handler(label: label, sink: self) }
        logger.logLevel = .trace
        return logger
    }

    /// Every line logged so far: label, level, message and metadata.
    public var all: [String] { lines.withLock { $0 } }

    /// The lines that contain `text`.
    public func lines(containing text: String) -> [String] { all.filter { $0.contains(text) } }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let label: String
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            sink.append("\(label) \(event.level) \(event.message) \(merged)")
        }
    }
}
