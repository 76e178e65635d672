import Coordination
import Foundation
import Synchronization

/// Shows how far `coord kv rm --recursive` has got, on stderr, once it has taken a while: on a
/// terminal one line redrawn in place (at most ten times a second), cleared at the end; otherwise
/// a plain line every 5 seconds. 20,000 znodes take seconds on ZooKeeper, which were silent.
final class DeleteProgressPrinter: Sendable {
    private struct State {
        var lastDrawn: ContinuousClock.Instant?
        var line = RedrawnLine()
    }
    private let key: Key
    private let terminal: Bool
    /// How long a delete runs before anything is shown: a quick one says nothing.
    private let quiet: Duration
    private let interval: Duration
    private let started = ContinuousClock.now
    private let state = Mutex(State())
    private let write: @Sendable (String) -> Void

    init(
        key: Key, terminal: Bool, quiet: Duration = .seconds(1), interval: Duration? = nil,
        write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    ) {
        self.key = key
        self.terminal = terminal
        self.quiet = quiet
        self.interval = interval ?? (terminal ? .milliseconds(100) : .seconds(5))
        self.write = write
    }

    func show(_ progress: RecursiveDeleteProgress) {
        let now = ContinuousClock.now
        let line: String? = state.withLock { state in
            guard now - started >= quiet else { return nil }
            // Off a terminal, the first line comes an interval after the start, as the next ones do.
            let last = state.lastDrawn ?? (terminal ? nil : started)
            if let last, now - last < interval { return nil }
            state.lastDrawn = now
            let text = "coord: deleting \(key.path): \(progress.deleted)/\(MigrateCommand.keys(progress.total)) deleted"
            guard terminal else { return text + "\n" }
            return state.line.draw(text)
        }
        if let line { write(line) }
    }

    /// Clears a line left on a terminal, before other output.
    func finish() {
        if let clearing = state.withLock({ $0.line.clear() }) { write(clearing) }
    }
}
