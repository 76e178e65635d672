import Foundation
import Synchronization

/// Shows a migration's progress on stderr: on a terminal one line redrawn in place (at most ten
/// times a second); otherwise a plain line every 5 seconds.
final class MigrationProgressPrinter: Sendable {
    private struct State {
        var lastDrawn: ContinuousClock.Instant?
        var lineOpen = false
        var announced = false
    }
    private let terminal: Bool
    private let started = ContinuousClock.now
    private let state = Mutex(State())

    init(terminal: Bool) {
        self.terminal = terminal
    }

    /// The progress callback to hand to ``StoreMigration``.
    var report: StoreMigration.ProgressHandler {
        { [self] progress in self.show(progress) }
    }

    private func show(_ progress: MigrationProgress) {
        let now = ContinuousClock.now
        let interval: Duration = terminal ? .milliseconds(100) : .seconds(5)
        let line: String? = state.withLock { state in
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
                state.lineOpen = true
                return "\r\u{1B}[2K" + text
            }
            return text + "\n"
        }
        if let line { FileHandle.standardError.write(Data(line.utf8)) }
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
        let open = state.withLock { state in
            defer { state.lineOpen = false }
            return state.lineOpen
        }
        if open { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }

    static func text(_ progress: MigrationProgress) -> String {
        let seconds = Double(progress.elapsed.components.seconds) + Double(progress.elapsed.components.attoseconds) / 1e18
        let counts = progress.counts
        switch progress.phase {
        case .readingSource, .readingTarget:
            let rate = seconds > 0 ? Int((Double(progress.read) / seconds).rounded()) : 0
            return "\(progress.phase.rawValue): \(MigrateCommand.keys(progress.read)) (\(rate) keys/s overall)"
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
