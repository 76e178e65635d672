public import Coordination
public import Foundation

/// What a handler is told about the run it executes.
public struct RunContext: Sendable {
    /// The job's id (``JobSpec/id``).
    public let job: String
    /// The run's id, unique within the job.
    public let run: String
    /// Which item of a sharded job this run is, from 0; 0 for an unsharded job.
    public let item: Int
    /// How many items the fire time was split into (``JobSpec/shards``).
    public let itemCount: Int
    /// ``JobSpec/parameter(ofItem:)`` for ``item``.
    public let itemParameter: String?
    /// The job's ``JobSpec/payload``.
    public let payload: Data
    /// 1 for the first attempt at this run, +1 for each retry and takeover of an abandoned attempt
    /// (a run handed back on a graceful shutdown keeps its attempt).
    public let attempt: Int
    /// The fire time this run is for: a one-shot job's time (its submission's when it has none),
    /// a recurring job's fire time, or the moment of a ``Scheduler/trigger(_:)``.
    public let scheduledAt: Date
    /// The claim's `createRevision`: strictly larger for every later claim of this job (a takeover,
    /// a retry, a later run or item). Pass it to whatever the handler writes to, so that a sink can
    /// refuse a stale writer. Runs of different jobs may have the same token (a worker claims
    /// several in one transaction): a sink shared by several jobs compares tokens per job.
    public let fencingToken: Int64
    /// The worker running it.
    public let worker: String
    /// When the attempt times out (monotonic), if the job has a timeout.
    public let deadline: ContinuousClock.Instant?
    let reportProgress: @Sendable (String) async throws -> Void
    /// The state of the session the claim was made in (see ``session``).
    let claimSession: @Sendable () -> SessionEvent

    init(
        job: String, run: String, item: Int, itemCount: Int, itemParameter: String?, payload: Data, attempt: Int,
        scheduledAt: Date, fencingToken: Int64, worker: String, deadline: ContinuousClock.Instant?,
        reportProgress: @escaping @Sendable (String) async throws -> Void,
        claimSession: @escaping @Sendable () -> SessionEvent = { SessionEvent(state: .connected, sessionID: "", ttl: .seconds(10), lastContact: .now) }
    ) {
        self.job = job
        self.run = run
        self.item = item
        self.itemCount = itemCount
        self.itemParameter = itemParameter
        self.payload = payload
        self.attempt = attempt
        self.scheduledAt = scheduledAt
        self.fencingToken = fencingToken
        self.worker = worker
        self.deadline = deadline
        self.reportProgress = reportProgress
        self.claimSession = claimSession
    }

    /// The session the claim was made in, as the worker's store sees it now: `expired` once the
    /// store has moved on to a new session. Its ``SessionEvent/safeUntil`` is how long the claim
    /// can still be trusted; work that outlives it may run beside the attempt that takes the run
    /// over (the worker cancels the handler a margin before that; something the handler started
    /// that the worker cannot stop should end by then on its own, as the shell handler's
    /// watchdog does).
    public var session: SessionEvent { claimSession() }

    /// Records progress on the run record, fenced: throws ``SchedulerError/fenced(job:run:)`` when
    /// this attempt no longer owns the run (taken over, cancelled, its job removed, session lost).
    public func progress(_ text: String) async throws {
        try await reportProgress(text)
    }
}

/// What a handler returns on success; `message` and the tails go to the history entry.
public struct RunOutput: Sendable, Hashable {
    public var message: String?
    public var stdoutTail: String?
    public var stderrTail: String?

    public init(message: String? = nil, stdoutTail: String? = nil, stderrTail: String? = nil) {
        self.message = message
        self.stdoutTail = stdoutTail
        self.stderrTail = stderrTail
    }
}

/// Thrown by a handler to fail with tails kept in the history (any other error fails with its description).
public struct RunFailure: Error, Sendable, Hashable {
    public var message: String
    public var stdoutTail: String?
    public var stderrTail: String?

    public init(_ message: String, stdoutTail: String? = nil, stderrTail: String? = nil) {
        self.message = message
        self.stdoutTail = stdoutTail
        self.stderrTail = stderrTail
    }
}

/// Code a worker runs for a job's handler name. Cancellation (timeout, cancel request, lost
/// session, shutdown) reaches it as task cancellation; the run ends only once it returns, with
/// the output tails of what it returns or throws (a ``RunFailure``) then. The stop decides the
/// outcome (timed out, cancelled, handed back), whatever it returns after it. A cancel request
/// or the end of a shutdown's grace period that reaches the worker before the handler starts
/// keeps it from starting at all.
///
/// A handler that ignores cancellation cannot be ended from outside: until it returns, its run
/// stays claimed, its slot taken and its end unrecorded, so no retry, later run of the job or
/// hand-back starts beside it, and ``Worker/run()`` does not return. Except once its worker's
/// session has ended, or its job is removed (``Scheduler/remove(_:)`` does not wait): the claim is
/// gone, and the run may be taken over (or the job, added again, run) while the handler still
/// runs. Its writes about the run are then refused (``RunContext/progress(_:)``); anything
/// else it writes is guarded only by ``RunContext/fencingToken``. So a handler should end within
/// ``Worker/selfFencingMargin(sessionTTL:)`` of its cancellation.
public typealias JobHandler = @Sendable (RunContext) async throws -> RunOutput
