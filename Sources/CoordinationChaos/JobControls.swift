import Coordination
import CoordinationScheduler
import Foundation
import Logging
import Synchronization

/// Cancels, pauses and replaces jobs through the scheduler's client API while faults run, as an
/// operator would (`coord job cancel/pause/resume/remove/submit`), and records each control once
/// it was acknowledged, with a store revision read after it (``JobControlRecord``).
///
/// Calls are retried while the store is unavailable, and while the job is not there yet (its
/// submission may itself be retrying through a fault). A control that never finds its job is
/// left unrecorded: the job is then judged as one nobody touched.
final class JobControls: Sendable {
    private let scheduler: Scheduler
    private let observer: StoreObserver
    private let started: ContinuousClock.Instant
    private let logger: Logger
    private let log = Mutex<[JobControlRecord]>([])

    init(scheduler: Scheduler, observer: StoreObserver, started: ContinuousClock.Instant, logger: Logger) {
        self.scheduler = scheduler
        self.observer = observer
        self.started = started
        self.logger = logger
    }

    /// Every control acknowledged so far, in the order they were.
    var records: [JobControlRecord] { log.withLock { $0 } }

    /// Whether a control was recorded for `job`.
    func touched(_ job: String) -> Bool { log.withLock { $0.contains { $0.job == job } } }

    private var now: Double { (ContinuousClock.now - started) / .seconds(1) }

    /// Carries out `controls` from `phaseStart` on, each at its time, concurrently.
    func run(_ controls: [Workload.Control], from phaseStart: ContinuousClock.Instant) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for control in controls {
                try await Task.sleep(until: phaseStart + control.at)
                group.addTask {
                    switch control.action {
                    case .cancel: try await self.cancel(control.job)
                    case .pause(let hold): try await self.pause(control.job, for: hold)
                    case .replace(let spec): try await self.replace(spec)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Cancels the job's active runs; recorded once acknowledged.
    func cancel(_ job: String) async throws {
        guard try await retrying(job, { try await self.scheduler.cancel(job) }) != nil else { return }
        let revision = try await observer.revisionNow(within: .seconds(30))
        record(JobControlRecord(job: job, action: .cancel, at: now, acknowledgedRevision: revision))
        logger.info("chaos: cancelled \(job) (acknowledged by revision \(revision))")
    }

    /// Pauses the job for `hold`, then resumes it; recorded with both revisions.
    func pause(_ job: String, for hold: Duration) async throws {
        guard try await retrying(job, { try await self.scheduler.pause(job) }) != nil else { return }
        let paused = try await observer.revisionNow(within: .seconds(30))
        let at = now
        try await Task.sleep(for: hold)
        let resuming = try await observer.revisionNow(within: .seconds(30))
        // Resumed or not, no run may have started before `resuming`.
        defer { record(JobControlRecord(job: job, action: .pause, at: at, acknowledgedRevision: paused, resumedRevision: resuming)) }
        try await Self.transient { try await self.scheduler.resume(job) }
        logger.info("chaos: paused \(job) from revision \(paused) until \(resuming)")
    }

    /// Cancels the job, waits (bounded) until its runs are over, removes it (`remove` does not
    /// wait for a running command to stop) and submits `spec` again: a new incarnation.
    func replace(_ spec: JobSpec) async throws {
        let job = spec.id
        guard try await retrying(job, { try await self.scheduler.cancel(job) }) != nil else { return }
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, try await Self.transient({ try await self.scheduler.activeRuns(of: job) }).isEmpty == false {
            try await Task.sleep(for: .milliseconds(100))  // a cancelled command stops within moments, a lost worker's within a TTL
        }
        do {
            try await Self.transient { try await self.scheduler.remove(job) }
        } catch let error as CoordinationError where error.code == .noNode {
            // A retried removal that had landed the first time.
        }
        let removed = try await observer.revisionNow(within: .seconds(30))
        let at = now
        try await Workload.submit(spec, to: scheduler, within: .seconds(60))
        let incarnation = try await Self.transient { try await self.scheduler.job(job)?.state.incarnation }
        record(JobControlRecord(job: job, action: .replace, at: at, acknowledgedRevision: removed, incarnation: incarnation))
        logger.info("chaos: replaced \(job) (removed by revision \(removed), now incarnation \(incarnation ?? "-"))")
    }

    /// Returns once `worker`'s member key is gone (its session ended), or after `limit`. Looked at
    /// every 5 ms: the moment matters, the other workers act on it within milliseconds.
    func waitUntilGone(worker: String, within limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline, !Task.isCancelled {
            guard let key = try? scheduler.layout.worker(worker), (try? await scheduler.store.exists(key)) ?? true else { return }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Whether `job` has active runs; a store that does not answer counts as yes.
    func hasActiveRuns(_ job: String) async -> Bool {
        (try? await scheduler.activeRuns(of: job).isEmpty == false) ?? true
    }

    private func record(_ control: JobControlRecord) { log.withLock { $0.append(control) } }

    /// `body`'s result, retried while the store is unavailable or the job is not there yet;
    /// `nil` when the job never appeared.
    private func retrying<T: Sendable>(_ job: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                return try await Self.transient(body)
            } catch let error as CoordinationError where error.code == .noNode {
                guard ContinuousClock.now < deadline else {
                    logger.notice("chaos: \(job) never appeared to be controlled; left alone")
                    return nil
                }
                try await Task.sleep(for: .milliseconds(200))  // its submission may be retrying through a fault
            }
        }
    }

    private static func transient<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await BackendRun.retrying(body)
    }
}
