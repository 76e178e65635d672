import Foundation
import Synchronization

/// Shows a migration's progress on stderr: on a terminal one line redrawn in place (at most ten
/// times a second); otherwise a plain line every few seconds and at the end of each phase.
final class MigrationProgressPrinter: Sendable {
    private struct State {
        var lastDrawn: ContinuousClock.Instant?
        var lineOpen = false
        var announced = false
    }
    private let terminal: Bool
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
            if !progress.phaseEnded, let last = state.lastDrawn, now - last < interval { return nil }
            // On a pipe, a phase's end is worth a line only for phases that did something.
            if !terminal && progress.phaseEnded && progress.read == 0 && progress.counts.done == 0 { return nil }
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
            return "\(progress.phase.rawValue): \(progress.read) keys (\(rate) keys/s overall)"
        case .writing, .counters:
            let rate = seconds > 0 ? Int((Double(counts.done) / seconds).rounded()) : 0
            return "\(progress.phase.rawValue): \(counts.done)/\(progress.total) keys, \(counts.copied) copied, "
                + "\(counts.identical) identical, \(counts.ephemeral) ephemeral skipped, "
                + "\(String(format: "%.1f", seconds))s, \(rate) keys/s"
        case .following:
            return "following: \(progress.read) events, \(counts.copied) written, \(counts.deleted) deleted, "
                + "\(progress.total) keys mirrored"
        }
    }
}
