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
/// enqueued from any other thread runs on the global concurrent executor as usual.
public final class ZooKeeperCompletionExecutor: TaskExecutor {
    public static let shared = ZooKeeperCompletionExecutor()

    private init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        if CompletionThread.isCurrent {
            job.runSynchronously(on: asUnownedTaskExecutor())
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

    /// Called by every completion before it resumes anyone.
    static func mark() {
        if pthread_getspecific(key) == nil { pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1)) }
    }

    static var isCurrent: Bool { pthread_getspecific(key) != nil }
}
