import Foundation

/// A task executor on a thread of its own that a test can hold: jobs enqueued while it is held
/// wait until ``release()``. A task preferring it stands for a task whose thread is busy (the
/// cooperative pool taken by other work), for that task alone, so a test can show that work meant
/// to go on without the task (a session's keep-alives) does, without stalling every other test.
public final class HeldExecutor: TaskExecutor, @unchecked Sendable {
    // `condition` guards `jobs`, `held`, `holdAfterNext` and `stopped`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var held = false
    private var holdAfterNext = false
    private var stopped = false

    public init() {
        let thread = Thread { [self] in runJobs() }
        thread.name = "held-executor"
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        // Once stopped, the thread may be gone: a late job runs on the global executor instead.
        guard !stopped else {
            condition.unlock()
            globalConcurrentExecutor.enqueue(job)
            return
        }
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs the next job, then holds every later one until ``release()``: a task started on the
    /// executor runs to its first suspension, and waits there, however soon it is resumed.
    public func holdAfterNextJob() {
        condition.lock()
        holdAfterNext = true
        condition.unlock()
    }

    /// Whether a hold has taken effect: jobs now wait.
    public var isHolding: Bool {
        condition.lock()
        defer { condition.unlock() }
        return held
    }

    /// Runs the jobs that waited, and later ones as they come.
    public func release() {
        condition.lock()
        held = false
        condition.signal()
        condition.unlock()
    }

    /// Ends the thread once the jobs enqueued have run (held or not); later jobs go to the global
    /// executor.
    public func stop() {
        condition.lock()
        stopped = true
        held = false
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        while true {
            condition.lock()
            while !stopped && (held || jobs.isEmpty) { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
            condition.lock()
            if holdAfterNext {
                holdAfterNext = false
                held = !stopped
            }
            condition.unlock()
        }
    }
}
