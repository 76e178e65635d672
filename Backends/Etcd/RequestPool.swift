import Coordination
import Foundation

/// A few threads the store owns, each with its own kept-alive curl handle, serving requests from
/// one queue. Async callers are bridged with continuations, so blocking transfers never run on
/// the cooperative pool, and several requests are in flight at once. Threads start on demand, up
/// to `maxThreads`, so a quiet handle costs one thread, not the maximum.
final class RequestPool: @unchecked Sendable {
    private typealias Job = (CurlConnection?) -> Void

    // `condition` guards every variable below.
    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var jobsHead = 0
    private var closed = false
    private var threads = 0
    private var idle = 0

    private let maxThreads: Int
    private let name: String
    private let tls: TLSFiles?

    init(threads: Int, name: String, tls: TLSFiles?) {
        maxThreads = max(1, threads)
        self.name = name
        self.tls = tls
    }

    /// Runs `work` on one of the pool's threads with that thread's connection.
    func run<Result: Sendable>(_ work: @escaping @Sendable (CurlConnection) throws(CoordinationError) -> Result) async throws(CoordinationError) -> Result {
        let outcome: Swift.Result<Result, CoordinationError> = await withCheckedContinuation { continuation in
            enqueue { connection in
                guard let connection else { return continuation.resume(returning: .failure(.closed())) }
                do throws(CoordinationError) {
                    continuation.resume(returning: .success(try work(connection)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try outcome.get()
    }

    /// Stops the threads once the queue is drained; later requests fail with `unavailable`.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    private func enqueue(_ job: @escaping Job) {
        condition.lock()
        if closed {
            condition.unlock()
            job(nil)
            return
        }
        jobs.append(job)
        let queued = jobs.count - jobsHead
        let startThread = queued > idle && threads < maxThreads
        if startThread { threads += 1 }
        condition.signal()
        condition.unlock()
        if startThread { spawn() }
    }

    private func spawn() {
        let thread = Thread { [self] in
            let connection = CurlConnection(tls: tls)
            while let job = nextJob() { job(connection) }
        }
        thread.name = name
        thread.start()
    }

    private func nextJob() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while jobsHead == jobs.count && !closed {
            idle += 1
            condition.wait()
            idle -= 1
        }
        guard jobsHead < jobs.count else { return nil }
        let job = jobs[jobsHead]
        jobsHead += 1
        if jobsHead > 64 && jobsHead * 2 > jobs.count {
            jobs.removeFirst(jobsHead)
            jobsHead = 0
        }
        return job
    }
}
