import Coordination
import CoordinationScheduler
import Foundation

/// The jobs a chaos run submits while faults run: a stream of one-shot jobs (some fail their first
/// attempt, all may retry), long one-shot jobs, a cron job firing every second, and sharded jobs;
/// and what is done to some of them while they wait or run: cancelled, paused and resumed, or
/// replaced (removed and submitted again). Drawn from the seed.
struct Workload: Sendable {
    /// One submission: when (after the start of the fault phase) and what.
    struct Submission: Sendable {
        var at: Duration
        var spec: JobSpec
    }

    /// One control of a job: when (after the start of the fault phase) and what.
    struct Control: Sendable {
        enum Action: Sendable {
            case cancel
            /// Paused, then resumed after this long.
            case pause(Duration)
            /// Removed and submitted again (the same spec).
            case replace(JobSpec)
        }

        var at: Duration
        var job: String
        var action: Action
    }

    static let cronJob = "tick"
    static let shards = 4
    /// The id prefix of the long jobs: their commands outlive a session TTL, so a worker stalled
    /// while it runs one leaves a command only its watchdog can end in time.
    static let longJobPrefix = "long-"

    var submissions: [Submission]
    var controls: [Control] = []

    /// The jobs a planned control acts on (a fault's targeted cancel leaves them alone).
    var controlledJobs: Set<String> { Set(controls.map(\.job)) }

    /// Every (job, item) that must end with a success in history: the one-shot jobs and every
    /// shard of the sharded ones (the cron job is checked per fire time instead).
    var mustSucceed: Set<ResourceID> {
        var resources: Set<ResourceID> = []
        for submission in submissions where !submission.spec.schedule.isRecurring {
            for item in 0..<submission.spec.shards { resources.insert(ResourceID(job: submission.spec.id, item: item)) }
        }
        return resources
    }

    var cronJobs: Set<String> { Set(submissions.filter { $0.spec.schedule.isRecurring }.map(\.spec.id)) }

    /// Plans the workload of a fault phase of `length`; `command` makes a job's shell command from
    /// its work time and whether its first attempt fails.
    static func plan(
        length: Duration, generator: inout SeededGenerator, command: (Duration, Bool) -> String
    ) throws -> Workload {
        // Retries enough to outlast every takeover the faults cause; short back-offs keep it quick.
        let retry = RetryPolicy(maxRetries: 50, backoffBase: .milliseconds(200), backoffCap: .seconds(2))
        var submissions = [
            Submission(
                at: .zero,
                spec: JobSpec(
                    id: cronJob, handler: "shell", payload: Data(command(.milliseconds(100), false).utf8),
                    schedule: .cron(try CronExpression("* * * * * *"))))
        ]
        var oneShot = 0
        var at = Duration.milliseconds(500)
        // Leave the last part of the phase without new jobs, so the last ones meet faults too.
        while at < length - .seconds(5) {
            let spec = JobSpec(
                id: String(format: "once-%04d", oneShot), handler: "shell",
                payload: Data(command(generator.duration(in: .milliseconds(200)...(.milliseconds(1500))), Int.random(in: 0..<5, using: &generator) == 0).utf8),
                retry: retry)
            submissions.append(Submission(at: at, spec: spec))
            oneShot += 1
            at += generator.duration(in: .milliseconds(700)...(.milliseconds(1500)))
        }
        var long = 0
        var longAt = Duration.seconds(1)
        while longAt < length - .seconds(5) {
            let spec = JobSpec(
                id: String(format: "\(longJobPrefix)%03d", long), handler: "shell",
                payload: Data(command(generator.duration(in: .seconds(5)...(.seconds(8))), false).utf8), retry: retry)
            submissions.append(Submission(at: longAt, spec: spec))
            long += 1
            longAt += .seconds(10)
        }
        var sharded = 0
        var shardAt = Duration.seconds(2)
        while shardAt < length - .seconds(5) {
            let spec = JobSpec(
                id: String(format: "shard-%03d", sharded), handler: "shell",
                payload: Data(command(generator.duration(in: .milliseconds(1000)...(.milliseconds(2500))), false).utf8),
                shards: shards, retry: retry)
            submissions.append(Submission(at: shardAt, spec: spec))
            sharded += 1
            shardAt += .seconds(20)
        }
        submissions.sort { $0.at < $1.at }
        return Workload(submissions: submissions, controls: planControls(of: submissions, generator: &generator))
    }

    /// About one one-shot job in eight is cancelled, one in eight paused (for 1-3 s) and one in ten
    /// replaced, soon after its submission (while it waits, runs or retries); every other long job
    /// is cancelled while it runs; every other sharded job is paused while its shards run.
    static func planControls(of submissions: [Submission], generator: inout SeededGenerator) -> [Control] {
        var controls: [Control] = []
        for submission in submissions where !submission.spec.schedule.isRecurring {
            let id = submission.spec.id
            let draw = Int.random(in: 0..<40, using: &generator)
            let soon = generator.duration(in: .milliseconds(100)...(.milliseconds(2000)))
            if id.hasPrefix(longJobPrefix) {
                if draw < 20 { controls.append(Control(at: submission.at + .seconds(3) + soon, job: id, action: .cancel)) }
            } else if submission.spec.shards > 1 {
                let hold = generator.duration(in: .seconds(1)...(.seconds(3)))
                if draw < 20 { controls.append(Control(at: submission.at + soon, job: id, action: .pause(hold))) }
            } else if draw < 5 {
                controls.append(Control(at: submission.at + soon, job: id, action: .cancel))
            } else if draw < 10 {
                let hold = generator.duration(in: .seconds(1)...(.seconds(3)))
                controls.append(Control(at: submission.at + soon, job: id, action: .pause(hold)))
            } else if draw < 14 {
                controls.append(Control(at: submission.at + soon, job: id, action: .replace(submission.spec)))
            }
        }
        return controls.sorted { $0.at < $1.at }
    }

    /// Submits one job, retrying while the store is unavailable (faults are running). A retried
    /// submission that finds its job already stored was applied the first time.
    static func submit(_ spec: JobSpec, to scheduler: Scheduler, within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        var attempt = 0
        while true {
            do {
                try await scheduler.submit(spec)
                return
            } catch let error as CoordinationError where error.code == .nodeExists && attempt > 0 {
                return
            } catch let error as CoordinationError where error.code.isTransient && ContinuousClock.now < deadline {
                attempt += 1
                try await Task.sleep(for: .milliseconds(200))  // back off while the cluster recovers
            }
        }
    }
}

extension CoordinationError.Code {
    /// Codes a retry may get past while servers fail over.
    var isTransient: Bool {
        [.connectionLoss, .timeout, .unavailable, .sessionExpired].contains(self)
    }
}
