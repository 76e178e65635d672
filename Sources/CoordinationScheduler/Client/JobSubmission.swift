import Coordination
import Foundation

/// The creations that store one new job: its record (definition and state, which its runs live
/// beneath), its history folder and, for a one-shot job, its runs (materialised by the
/// submitter, so it never waits for a leader).
struct JobSubmission: Sendable {
    let spec: JobSpec
    /// The job's creations, with as many of its runs as fit one transaction.
    let operations: [Coordination.Operation]
    /// Every run creation; those past ``RunPlan/firstChunk`` follow in transactions of their own.
    let runCreates: [Coordination.Operation]

    /// How many of ``operations`` come before the runs: the job's record and its history folder.
    static let folderCount = 2

    /// - Parameter workers: the eligible live workers, for a broadcast job.
    init(_ spec: JobSpec, now: Date, workers: [String], layout: SchedulerLayout) throws {
        var state = JobState(submittedAt: now)
        var runs: [RunRecord] = []
        if case .once(let at) = spec.schedule {
            let when = at ?? now
            runs = RunPlan.runs(of: spec, scheduledAt: when, notBefore: when, broadcastTo: workers) {
                RunID.scheduled(at: when, item: $0, worker: $1)
            }
            state.lastMaterialized = when
        }
        self.spec = spec
        runCreates = try RunPlan.createOperations(runs, layout: layout)
        operations = [
            .create(try layout.job(spec.id), value: try JobRecord(spec: spec, state: state).encoded(), mode: .persistent),
            .create(try layout.history(of: spec.id), value: [], mode: .persistent),
        ] + runCreates.prefix(RunPlan.firstChunk)
    }
}
