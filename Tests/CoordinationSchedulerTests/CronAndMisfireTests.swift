import Coordination
import CoordinationRecipes
import CoordinationScheduler
import Foundation
import CoordinationTestSupport
import Testing

@Suite(.serverLoadLimit) struct CronAndMisfireTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// Counts handler calls per fire time.
    static func fireTimeCounter(_ calls: Shared<[Date: Int]>) -> JobHandler {
        { context in
            calls.withLock { $0[context.scheduledAt, default: 0] += 1 }
            return RunOutput()
        }
    }

    @Test(arguments: SchedulerBackend.all)
    func eachCronFireTimeRunsOnceAcrossThreeWorkersAndMisfiresFollowThePolicy(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[Date: Int]>([:])
        let handlers = ["tick": Self.fireTimeCounter(calls)]
        for index in 0..<3 { try await cluster.startWorker("w\(index)", handlers: handlers) }
        let client = try await cluster.client()
        let everySecond = try CronExpression("* * * * * *")
        try await client.submit(JobSpec(id: "once-now", handler: "tick", schedule: .cron(everySecond), misfire: .fireOnceNow))
        try await client.submit(JobSpec(id: "skipper", handler: "tick", schedule: .cron(everySecond), misfire: .skip))

        for second in 1...5 {
            clock.advance(by: 1)
            _ = try await cluster.waitForHistory("fire time \(second)") {
                successes("once-now", second)($0) && successes("skipper", second)($0)
            }
        }
        let expected = (1...5).map { Self.start.addingTimeInterval(Double($0)) }
        #expect(calls.value == Dictionary(uniqueKeysWithValues: expected.map { ($0, 2) }), "each fire time once per job")

        // A total outage: no worker (so no leader) for several fire times.
        for index in 0..<3 { try await cluster.stopWorker("w\(index)") }
        clock.advance(by: 5.7)  // fire times +6…+10 pass; +10 is 0.7 s late: a misfire
        for index in 0..<3 { try await cluster.startWorker("w\(index)", handlers: handlers) }
        let history = try await cluster.waitForHistory("the catch-up") { entries in
            successes("once-now", 6)(entries) && entries.contains { $0.job == "skipper" && $0.outcome == .skipped }
        }
        let latestMissed = Self.start.addingTimeInterval(10)
        let onceNow = history.filter { $0.job == "once-now" }
        #expect(onceNow.filter { $0.outcome == .succeeded }.last?.scheduledAt == latestMissed, "one run for the latest missed time")
        #expect(onceNow.filter { $0.outcome == .skipped }.count == 1, "the other four recorded as skipped")
        // Times in messages as coord shows every time, ISO 8601 in UTC; the policy as its flag spells it.
        let missedText = ISO8601DateFormatter().string(from: latestMissed)
        #expect(
            onceNow.first { $0.outcome == .skipped }?.message
                == "4 fire time(s) up to \(missedText) missed (misfire policy fire-once-now)")
        let skipper = history.filter { $0.job == "skipper" }
        #expect(skipper.filter { $0.outcome == .succeeded }.count == 5, "no run for missed fire times")
        #expect(skipper.first { $0.outcome == .skipped }?.message == "5 fire time(s) up to \(missedText) missed (misfire policy skip)")

        // Back on time: the next fire time runs normally for both.
        clock.advance(by: 0.3)
        _ = try await cluster.waitForHistory("fire time 11") {
            successes("once-now", 7)($0) && successes("skipper", 6)($0)
        }
        #expect(calls.value[Self.start.addingTimeInterval(11)] == 2)
        #expect(calls.value.values.allSatisfy { $0 <= 2 }, "no fire time ran twice")
    }

    @Test(arguments: SchedulerBackend.all)
    func fixedRateJobsFireFromTheirStart(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[Date: Int]>([:])
        try await cluster.startWorker("w", handlers: ["tick": Self.fireTimeCounter(calls)])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "rate", handler: "tick", schedule: .every(.milliseconds(1500), start: nil)))
        for count in 1...3 {
            clock.advance(by: 1.5)
            _ = try await cluster.waitForHistory("run \(count)", successes("rate", count))
        }
        #expect(calls.value.keys.sorted() == [1.5, 3.0, 4.5].map { Self.start.addingTimeInterval($0) })
    }

    @Test(arguments: SchedulerBackend.all)
    func overlapPoliciesSkipOrReplaceAnActiveRun(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let firstStarted = Shared<Set<String>>([])
        let release = Signal()
        // Each job's first handler start: a run whose status is `running` is only claimed, and
        // one cancelled (replaced) before its start never starts.
        let started = ["skip": Signal(), "replace": Signal()]
        let blocking: JobHandler = { context in
            let first = firstStarted.withLock { $0.insert(context.job).inserted }
            if first { started[context.job]?.fire() }
            if first { await release.wait() }
            try Task.checkCancellation()
            return RunOutput()
        }
        try await cluster.startWorker("w", capacity: 4, handlers: ["block": blocking])
        let client = try await cluster.client()
        let everySecond = try CronExpression("* * * * * *")
        try await client.submit(JobSpec(id: "skip", handler: "block", schedule: .cron(everySecond), overlap: .skip))
        try await client.submit(JobSpec(id: "replace", handler: "block", schedule: .cron(everySecond), overlap: .replace))
        clock.advance(by: 1)
        try await withDeadline("the first runs to start") {
            await started["skip"]!.wait()
            await started["replace"]!.wait()
        }
        clock.advance(by: 1)
        let history = try await cluster.waitForHistory("skip and replace") { entries in
            entries.contains { $0.job == "skip" && $0.outcome == .skipped }
                && entries.contains { $0.job == "replace" && $0.outcome == .succeeded }
        }
        let replace = history.filter { $0.job == "replace" }
        #expect(replace.map(\.outcome) == [.cancelled, .succeeded], "the active run was cancelled, then the new one ran")
        #expect(replace.last?.scheduledAt == Self.start.addingTimeInterval(2))
        release.fire()
        let after = try await cluster.waitForHistory("the skip job's first run") { successes("skip", 1)($0) }
        let skip = after.filter { $0.job == "skip" }
        #expect(skip.map(\.outcome) == [.skipped, .succeeded])
        #expect(skip.first?.scheduledAt == Self.start.addingTimeInterval(2))
    }

    @Test(arguments: SchedulerBackend.all)
    func queuedFireTimesRunOneAfterAnotherInOrder(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let release = Signal()
        let state = Shared((running: 0, most: 0, order: [Date]()))
        let handler: JobHandler = { context in
            state.withLock {
                $0.running += 1
                $0.most = max($0.most, $0.running)
                $0.order.append(context.scheduledAt)
            }
            if context.scheduledAt == Self.start.addingTimeInterval(1) { await release.wait() }
            state.withLock { $0.running -= 1 }
            return RunOutput()
        }
        for index in 0..<3 { try await cluster.startWorker("w\(index)", handlers: ["work": handler]) }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "queued", handler: "work", schedule: .cron(try CronExpression("* * * * * *"))))
        clock.advance(by: 1)
        _ = try await cluster.waitForRuns(of: "queued", "the first run to start") { $0.first?.status == .running }
        clock.advance(by: 1)
        _ = try await cluster.waitForRuns(of: "queued", "the second fire time to queue") { $0.count == 2 }
        clock.advance(by: 1)
        let queued = try await cluster.waitForRuns(of: "queued", "the third fire time to queue") { $0.count == 3 }
        #expect(queued.map(\.status) == [.running, .pending, .pending], "later fire times wait")
        release.fire()
        let history = try await cluster.waitForHistory("three runs") { successes("queued", 3)($0) }
        #expect(history.compactMap(\.scheduledAt) == (1...3).map { Self.start.addingTimeInterval(Double($0)) })
        #expect(state.value.order == (1...3).map { Self.start.addingTimeInterval(Double($0)) })
        #expect(state.value.most == 1, "never two fire times of the job at once")
    }

    @Test(arguments: SchedulerBackend.all)
    func whenTheLeadersSessionExpiresTheNextLeaderFiresEachTimeOnce(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[Date: Int]>([:])
        var stores: [String: any CoordinationStore] = [:]
        for index in 0..<3 {
            stores["w\(index)"] = try await cluster.startWorker("w\(index)", handlers: ["tick": Self.fireTimeCounter(calls)]).store
        }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "tick", handler: "tick", schedule: .cron(try CronExpression("* * * * * *"))))
        let election = LeaderElection(store: try await cluster.open(), path: cluster.layout.leader, identity: "observer")
        for second in 1...6 {
            if second == 3 || second == 5 {
                // Kill the leader's session between two fire times; another worker takes over.
                let leader = try #require(try await election.currentLeader()?.identityString)
                try await backend.expire(try #require(stores[leader]))
            }
            clock.advance(by: 1)
            _ = try await cluster.waitForHistory("fire time \(second)", successes("tick", second))
        }
        let expected = (1...6).map { Self.start.addingTimeInterval(Double($0)) }
        #expect(calls.value == Dictionary(uniqueKeysWithValues: expected.map { ($0, 1) }), "each fire time exactly once")
    }
}
