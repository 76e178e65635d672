import Coordination
import Foundation

/// Starts child processes off Swift's cooperative pool.
///
/// `Process.run()` holds its thread until the child has exec'd (posix_spawn waits for it), after
/// Foundation's own setup (a close action for every open descriptor, the environment copied).
/// Measured on a 2-core machine while it built: 8 spawns at once of the `coord` binary took 16 to
/// 76 ms each at the median and up to 1 s. On the pool (two threads there) that stalls every
/// other test of the run meanwhile, so async callers start their children through this.
public enum ChildProcessLaunch {
    /// Runs `process` (configured, not yet started) on a thread of its own; returns once it has
    /// started, or throws what `Process.run()` threw.
    ///
    /// Waiting for it afterwards needs no particular thread: ``ChildProcessWait`` waits from one
    /// of its own, and `terminationHandler` runs on one of Foundation's.
    public static func run(_ process: Process) async throws {
        try await OwnThread.run { try process.run() }
    }
}
