import Coordination

/// Gets a task preferring a store's completion executor onto the store's reply thread.
///
/// A call made from a pool thread can have its reply back before the task has finished
/// suspending (a loaded machine preempts the caller between sending and suspending), and the task
/// then goes on where it already is; so can the next call from that thread, and so on. Once a
/// reply resumes the task on the reply thread, every later call leaves from it, and that thread
/// can only deliver the reply after the task has suspended.
public enum ReplyThreadArrival {
    /// Makes `call` until it comes back on the reply thread, at most `limit` times; whether it did.
    public static func reach(limit: Int = 100, by call: () async throws -> Void) async rethrows -> Bool {
        for _ in 0..<limit {
            try await call()
            if ReplyThread.isCurrent { return true }
        }
        return false
    }
}
