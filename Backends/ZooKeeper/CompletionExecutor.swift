import Coordination
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A task executor that runs the part of a task that follows a ZooKeeper reply on the C client's
/// completion thread, where the reply arrives, instead of handing it to a thread of the
/// cooperative pool.
///
/// By default each reply costs two thread wake-ups (the client's I/O thread wakes its completion
/// thread, which wakes a pool thread); the C client's own synchronous calls cost one, and that
/// hand-off was about 15 µs of a 90 µs get on a 2-core machine. Under this executor's preference
/// (`withTaskExecutorPreference(ZooKeeperStore.completionExecutor) { … }`) a loop of store calls
/// costs one as well.
///
/// Meant for loops of store calls with little work in between: while such code runs, the handle
/// delivers no other reply or watch event, so it must never block or compute for long. Work
/// enqueued from any other thread runs on the global concurrent executor as usual, and a reply
/// that arrives before its task has finished suspending (possible for a call made from another
/// thread, such as a loop's first) lets the task go on where it already is.
public final class ZooKeeperCompletionExecutor: TaskExecutor {
    public static let shared = ZooKeeperCompletionExecutor()

    private init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        // Never one job inside another: a job that starts a child task (or resumes another task)
        // on the completion thread hands that one to the global executor.
        if CompletionThread.beginRunning() {
            job.runSynchronously(on: asUnownedTaskExecutor())
            CompletionThread.endRunning()
        } else {
            globalConcurrentExecutor.enqueue(job)
        }
    }
}

extension ZooKeeperStore {
    /// See ``ZooKeeperCompletionExecutor``.
    public static var completionExecutor: ZooKeeperCompletionExecutor { .shared }
}

/// Marks the C client's completion threads: our completion functions run only there.
enum CompletionThread {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "no thread-specific key for the completion threads")
        return key
    }()

    // The thread's value: unset elsewhere, 1 on a completion thread, 2 while it runs a job of ours.
    private static let idle = 1
    private static let running = 2

    private static var value: Int { Int(bitPattern: pthread_getspecific(key)) }
    private static func set(_ value: Int) { pthread_setspecific(key, UnsafeRawPointer(bitPattern: value)) }

    /// Called by every completion before it resumes anyone.
    static func mark() {
        if value == 0 { set(idle) }
    }

    static var isCurrent: Bool { value != 0 }

    /// `true` when on a completion thread that runs no job of ours yet; it now does.
    static func beginRunning() -> Bool {
        guard value == idle else { return false }
        set(running)
        return true
    }

    static func endRunning() { set(idle) }
}
