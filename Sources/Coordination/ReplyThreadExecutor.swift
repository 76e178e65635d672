#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A task executor that runs the part of a task that follows a store's reply on the thread where
/// the reply arrives (ZooKeeper's completion thread, etcd's request loop), instead of handing it
/// to a thread of the cooperative pool.
///
/// By default each reply costs a thread wake-up more than a C client's own synchronous call: the
/// store's thread gets the reply and wakes a pool thread to go on. Under this executor's
/// preference (`withTaskExecutorPreference(ZooKeeperStore.completionExecutor) { … }`, or
/// `EtcdStore.completionExecutor`) a loop of store calls goes on where each reply arrives.
///
/// Meant for loops of store calls with little work in between: while such code runs, the store
/// delivers no other reply (nor, on ZooKeeper, watch event) on that thread, and on etcd it sends
/// and receives nothing at all (that thread does all of the store's network I/O), so it must never
/// block or compute for long. Work enqueued from any other thread runs on the global concurrent executor
/// as usual, and a reply that arrives before its task has finished suspending (possible for a call
/// made from another thread, such as a loop's first) lets the task go on where it already is.
public final class ReplyThreadExecutor: TaskExecutor {
    public static let shared = ReplyThreadExecutor()

    private init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        // Never one job inside another: a job that starts a child task (or resumes another task)
        // on a reply thread hands that one to the global executor.
        if ReplyThread.beginRunning() {
            job.runSynchronously(on: asUnownedTaskExecutor())
            ReplyThread.endRunning()
        } else {
            globalConcurrentExecutor.enqueue(job)
        }
    }
}

/// Marks the moments a store hands a reply over on its own thread; only then does
/// ``ReplyThreadExecutor`` run jobs there. Scoped to the hand-over, not the whole thread: anything
/// else that thread resumes (a session event sent under a lock, say) goes to the global executor.
package enum ReplyThread {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "no thread-specific key for the reply threads")
        return key
    }()

    // The thread's value: unset outside a hand-over, 1 while it hands a reply over, 2 while it
    // runs a job of ours.
    private static let handingOver = 1
    private static let running = 2

    private static var value: Int { Int(bitPattern: pthread_getspecific(key)) }
    private static func set(_ value: Int) { pthread_setspecific(key, UnsafeRawPointer(bitPattern: value)) }

    /// Runs `handOver` (which resumes whoever waits for a reply) so that a task preferring the
    /// executor goes on right here.
    package static func delivering<T>(_ handOver: () throws -> T) rethrows -> T {
        let before = value
        set(handingOver)
        defer { set(before) }
        return try handOver()
    }

    /// `true` while handing a reply over or running a job resumed by one.
    package static var isCurrent: Bool { value != 0 }

    /// `true` when handing a reply over and running no job of ours yet; it now does.
    static func beginRunning() -> Bool {
        guard value == handingOver else { return false }
        set(running)
        return true
    }

    static func endRunning() { set(handingOver) }
}
