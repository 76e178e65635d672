import Logging
import Synchronization

/// A logger that keeps every message with its metadata, at every level, so a test can search
/// what a library logged (for a password that must never appear, say).
public final class CapturedLogs: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    /// A logger at `trace` level that writes here.
    public func logger(label: String = "test.captured") -> Logger {
        ObservingLogger.make(label: label, level: .trace) { [self] message in
            append("\(message.label) \(message.level) \(message.text) \(message.metadata)")
        }
    }

    /// Every line logged so far: label, level, message and metadata.
    public var all: [String] { lines.withLock { $0 } }

    /// The lines that contain `text`.
    public func lines(containing text: String) -> [String] { all.filter { $0.contains(text) } }

    private func append(_ line: String) { lines.withLock { $0.append(line) } }
}
