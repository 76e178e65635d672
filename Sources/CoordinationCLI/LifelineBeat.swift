import CProcessControl
import Coordination
import CoordinationScheduler
import Foundation
import Synchronization

/// The beats a running shell command's watchdog (`coord __lifeline`, ``LifelineCommand``) waits
/// for: a line at each beat's interval into a pipe whose read end is the command's standard
/// input, written by a thread of its own, so that beats stop only when the whole worker process
/// does (stopped, frozen), not when its cooperative pool is busy. Each line is the number of
/// milliseconds the watchdog may wait for the next (shorter once the worker's session is about
/// to end: see ``ShellJobHandler/Lifeline/beat(_:now:)``).
///
/// The read end stays open here too while the command runs: a beat never meets a pipe without a
/// reader (SIGPIPE would end the worker). The write end is close-on-exec, so no child holds it:
/// when this process ends, the watchdog reads end of file.
final class LifelineBeat: Sendable {
    /// The read end, to hand to the command as its standard input.
    let readEnd: Int32
    private let writeEnd: Int32
    private let next: @Sendable () -> ShellJobHandler.Lifeline.Beat
    private let stopped = Mutex(false)
    private let condition = NSCondition()

    /// - Parameter next: the beat to send now (asked before each one).
    init(_ next: @escaping @Sendable () -> ShellJobHandler.Lifeline.Beat) throws {
        var ends: [Int32] = [0, 0]
        guard cprocess_pipe_cloexec(&ends) == 0 else {
            throw RunFailure("cannot make the command's lifeline: \(String(cString: strerror(errno)))")
        }
        readEnd = ends[0]
        writeEnd = ends[1]
        // A watchdog that stopped reading (stopped with its command) must not block the beats.
        _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK)
        self.next = next
        startBeating()
    }

    /// The first beat at once, then one after each beat's interval until ``stop()``.
    private func startBeating() {
        let thread = Thread { [self] in
            condition.lock()
            while !stopped.withLock({ $0 }) {
                // Errors (a full pipe, a watchdog gone) change nothing: the next beat tries again.
                // A line of a few bytes: written whole (under PIPE_BUF) or not at all.
                let beat = next()
                var line = Array(LifelineCommand.beatLine(allowing: beat.allowance, root: beat.root).utf8)
                _ = write(writeEnd, &line, line.count)
                // On the monotonic clock, as the watchdog counts: a wall-clock step back must not
                // hold the beats back until it kills a healthy worker's command.
                let due = ContinuousClock.now + beat.interval
                while !stopped.withLock({ $0 }) && condition.wait(until: due) {}
            }
            condition.unlock()
            close(writeEnd)
            close(readEnd)
        }
        thread.name = "coord-lifeline"
        thread.start()
    }

    /// Stops the beats and closes both ends (the watchdog, if still there, reads end of file).
    /// Call once the command's supervisor has ended.
    func stop() {
        condition.lock()
        stopped.withLock { $0 = true }
        condition.signal()
        condition.unlock()
    }
}
