import Coordination
import Foundation

/// Waits for child processes off Swift's cooperative pool.
///
/// `Process.waitUntilExit()`, and a wait that polls `isRunning` through a grace period, hold their
/// thread until the child ends. On the pool (two threads on a two-core machine) that stalls every
/// other test of the run meanwhile, so async callers go through these instead.
public enum ChildProcessWait {
    /// Returns once `process` has exited: how it ended and its status.
    public static func exit(of process: Process) async -> (reason: Process.TerminationReason, status: Int32) {
        await OwnThread.run {
            process.waitUntilExit()
            return (process.terminationReason, process.terminationStatus)
        }
    }

    /// Stops `process` as a service manager does: SIGTERM, then SIGKILL if it still runs after
    /// `grace`. Returns once it has exited.
    public static func terminate(_ process: Process, grace: Duration) async {
        await OwnThread.run { terminateBlocking(process, grace: grace) }
    }

    /// ``terminate(_:grace:)`` holding the calling thread: only for callers off the pool already.
    public static func terminateBlocking(_ process: Process, grace: Duration) {
        guard process.isRunning else { return }
        process.terminate()
        // Polled: Process gives no exit event that a wait here could also time out of.
        let deadline = ContinuousClock.now.advanced(by: grace)
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
