import CoordinationMigration
import Foundation
import Synchronization

/// Shows a migration's progress on stderr: on a terminal one line redrawn in place (at most ten
/// times a second); otherwise a plain line every 5 seconds, and while following, a line at least
/// every ``heartbeat(every:)`` interval even when nothing happens.
final class MigrationProgressPrinter: Sendable {
    private struct State {
        var lastDrawn: ContinuousClock.Instant?
        var line = RedrawnLine()
        var announced = false
        /// The latest report, for the heartbeat to repeat.
        var latest: MigrationProgress?
    }
    private let terminal: Bool
    private let started = ContinuousClock.now
    private let state = Mutex(State())
    private let write: @Sendable (String) -> Void

    init(terminal: Bool, write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.terminal = terminal
        self.write = write
    }

    /// Until the calling task is cancelled, repeats the latest report as a plain line whenever
    /// none was printed for `interval`: a log of a quiet `--follow` still shows that it runs. A
    /// terminal's line stays on screen, so there it does nothing.
    func heartbeat(every interval: Duration) async {
        guard !terminal else { return }
        while !Task.isCancelled {
            let line: String? = state.withLock { state in
                let now = ContinuousClock.now
                guard let latest = state.latest, now - (state.lastDrawn ?? started) >= interval else { return nil }
                state.lastDrawn = now
                return Self.text(latest) + "\n"
            }
            if let line { write(line) }
            // The next line is due `interval` after the last one, whoever printed it.
            let due = state.withLock { ($0.lastDrawn ?? started) + interval }
            try? await Task.sleep(until: max(due, ContinuousClock.now + .milliseconds(10)), clock: .continuous)
        }
    }

    /// The progress callback to hand to ``StoreMigration``.
    var report: StoreMigration.ProgressHandler {
        { [self] progress in self.show(progress) }
    }

    private func show(_ progress: MigrationProgress) {
        let now = ContinuousClock.now
        let interval: Duration = terminal ? .milliseconds(100) : .seconds(5)
        let line: String? = state.withLock { state in
            state.latest = progress
            if terminal {
                if !progress.phaseEnded, let last = state.lastDrawn, now - last < interval { return nil }
            } else {
                // On a pipe or file: a line every few seconds, none for a short run (the summary
                // on stdout says it all, and a failure stays one line on stderr).
                if progress.phaseEnded || now - (state.lastDrawn ?? started) < interval { return nil }
            }
            state.lastDrawn = now
            let text = Self.text(progress)
            if terminal {
                return state.line.draw(text)
            }
            return text + "\n"
        }
        if let line { write(line) }
    }

    /// `true` the first time only: for a line printed once.
    func firstAnnouncement() -> Bool {
        state.withLock { state in
            defer { state.announced = true }
            return !state.announced
        }
    }

    /// Ends a line left open on a terminal, before other output.
    func finish() {
        if let clearing = state.withLock({ $0.line.clear() }) { write(clearing) }
    }

    static func text(_ progress: MigrationProgress) -> String {
        let seconds = Double(progress.elapsed.components.seconds) + Double(progress.elapsed.components.attoseconds) / 1e18
        let counts = progress.counts
        switch progress.phase {
        case .readingSource, .readingTarget:
            let rate = seconds > 0 ? Int((Double(progress.read) / seconds).rounded()) : 0
            return (progress.verifying ? "verify, " : "") + "\(progress.phase.rawValue): \(MigrateCommand.keys(progress.read)) (\(rate) keys/s overall)"
        case .writing, .counters:
            let rate = seconds > 0 ? Int((Double(counts.done) / seconds).rounded()) : 0
            return "\(progress.phase.rawValue): \(counts.done)/\(MigrateCommand.keys(progress.total)), \(counts.copied) copied, "
                + "\(counts.identical) identical, \(counts.ephemeral) ephemeral skipped, "
                + "\(String(format: "%.1f", seconds))s, \(rate) keys/s"
        case .following:
            return "following: \(MigrateCommand.plural(progress.read, "event")), \(counts.copied) written, \(counts.deleted) deleted, "
                + "\(MigrateCommand.keys(progress.total)) mirrored"
        }
    }
}
