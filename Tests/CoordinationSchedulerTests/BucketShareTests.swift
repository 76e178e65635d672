import Coordination
import CoordinationRecipes
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// Which buckets a worker watches (``BucketShare``): the split itself, and that every job still
/// reaches a worker able to run it once workers watch shares.
@Suite struct BucketShareTests {
    let plain = WorkerInfo(capacity: 4, weight: 1, labels: [:], handlers: ["work"])
    let eu = WorkerInfo(capacity: 4, weight: 1, labels: ["zone": "eu"], handlers: ["work"])

    func owned(_ members: [String: WorkerInfo]) -> [String: Set<String>] {
        members.reduce(into: [:]) { result, member in
            result[member.key] = BucketShare.owned(by: member.key, info: member.value, members: members)
        }
    }

    @Test func eachClassSplitsEveryBucketAmongItsMembers() {
        let members = ["a1": plain, "a2": plain, "a3": plain, "e1": eu]
        let shares = owned(members)
        let plainShares = ["a1", "a2", "a3"].map { shares[$0]! }
        #expect(plainShares.reduce(0) { $0 + $1.count } == SchedulerLayout.bucketCount, "no bucket owned twice in a class")
        #expect(plainShares.reduce(Set()) { $0.union($1) } == Set(SchedulerLayout.bucketNames), "every bucket owned")
        #expect(plainShares.allSatisfy { !$0.isEmpty }, "each member owns some")
        #expect(shares["e1"] == Set(SchedulerLayout.bucketNames), "alone in its class, it owns them all")
        // A member that does not see itself among the members yet computes the same share.
        var withoutA1 = members
        withoutA1["a1"] = nil
        #expect(BucketShare.owned(by: "a1", info: plain, members: withoutA1) == shares["a1"])
    }

    @Test func aJoiningMemberTakesBucketsOnlyFromTheOthers() {
        let before = owned(["a1": plain, "a2": plain, "a3": plain])
        let after = owned(["a1": plain, "a2": plain, "a3": plain, "a4": plain])
        for member in ["a1", "a2", "a3"] {
            #expect(after[member]!.isSubset(of: before[member]!), "\(member) keeps what it kept, or less")
        }
        let moved = ["a1", "a2", "a3"].reduce(Set<String>()) { $0.union(before[$1]!.subtracting(after[$1]!)) }
        #expect(moved == after["a4"], "only the newcomer's buckets moved")
    }

    @Test func aDrainingMemberOwnsNothingAndTheOthersCoverItsBuckets() {
        var draining = plain
        draining.draining = true
        let members = ["a1": plain, "a2": plain, "a3": draining]
        let shares = owned(["a1": plain, "a2": plain])
        for member in ["a1", "a2"] {
            #expect(BucketShare.owned(by: member, info: plain, members: members) == shares[member], "as if a3 had left")
        }
        #expect(shares["a1"]!.union(shares["a2"]!) == Set(SchedulerLayout.bucketNames))
    }

    @Test func drainingIsWrittenOnlyWhileTrueAndReadAsFalseWhenAbsent() throws {
        let earlier = #"{"capacity":4,"weight":1,"labels":{},"handlers":["work"]}"#
        #expect(try SchedulerJSON.decode(WorkerInfo.self, from: Array(earlier.utf8), key: .root) == plain, "an earlier coord's value")
        #expect(!String(decoding: try SchedulerJSON.encode(plain), as: UTF8.self).contains("draining"))
        var draining = plain
        draining.draining = true
        #expect(try SchedulerJSON.decode(WorkerInfo.self, from: try SchedulerJSON.encode(draining), key: .root) == draining)
        #expect(draining.canRun(JobSpec(id: "one", handler: "work")) && !draining.takesNewRuns(of: JobSpec(id: "one", handler: "work")))
    }

    @Test func wideJobsAreThePlannedTheBroadcastAndTheSharded() throws {
        #expect(!BucketShare.isWide(JobSpec(id: "one", handler: "work")))
        #expect(!BucketShare.isWide(JobSpec(id: "cron", handler: "work", schedule: .cron(try CronExpression("* * * * * *")))))
        #expect(BucketShare.isWide(JobSpec(id: "items", handler: "work", shards: 2)))
        #expect(BucketShare.isWide(JobSpec(id: "turns", handler: "work", placement: .roundRobin)))
        #expect(BucketShare.isWide(JobSpec(id: "all", handler: "work", placement: .broadcast)))
    }
}

@Suite(.serverLoadLimit) struct BucketShareSchedulerTests {
    /// Three plain workers and one labelled one watch shares once the leader lists the wide
    /// buckets: compete jobs, labelled jobs only one worker may run, a round-robin job's items
    /// and a broadcast each run once, where they must.
    @Test(arguments: SchedulerBackend.all)
    func everyJobReachesAWorkerAbleToRunIt(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[String: Int]>([:])
        let ranOn = Shared<[String: String]>([:])
        let handler: JobHandler = { context in
            calls.withLock { $0["\(context.job)/\(context.run)", default: 0] += 1 }
            ranOn.withLock { $0["\(context.job)/\(context.run)"] = context.worker }
            return RunOutput()
        }
        for index in 0..<3 { try await cluster.startWorker("w\(index)", handlers: ["work": handler]) }
        try await cluster.startWorker("eu", labels: ["zone": "eu"], handlers: ["work": handler])
        try await cluster.waitForWorkers(4)
        let client = try await cluster.client()

        let plain = (0..<40).map { JobSpec(id: "plain-\($0)", handler: "work") }
        let euOnly = (0..<8).map { JobSpec(id: "eu-\($0)", handler: "work", requiredLabels: ["zone": "eu"]) }
        let turns = JobSpec(id: "turns", handler: "work", shards: 8, placement: .roundRobin)
        let everyone = JobSpec(id: "everyone", handler: "work", placement: .broadcast)
        try await client.submit(plain + euOnly + [everyone])
        let first = plain.count + euOnly.count + 4
        _ = try await cluster.waitForHistory("\(first) successes", limit: .seconds(60)) { entries in
            entries.filter { $0.outcome == .succeeded }.count >= first
        }
        // The round-robin job once the broadcast has run on all four: the leader places items
        // among the members its own view holds, which under load lagged the store by seconds
        // (it once saw two where the client had seen four).
        try await client.submit(turns)
        let expected = first + turns.shards
        let history = try await cluster.waitForHistory("\(expected) successes", limit: .seconds(60)) { entries in
            entries.filter { $0.outcome == .succeeded }.count >= expected
        }
        #expect(history.count == expected, "one history entry per run, nothing else")
        #expect(calls.value.count == expected && calls.value.values.allSatisfy { $0 == 1 }, "each run's handler once")
        let ran = ranOn.value
        #expect(ran.filter { $0.key.hasPrefix("eu-") }.allSatisfy { $0.value == "eu" }, "labelled jobs only where they may run")
        #expect(Set(ran.filter { $0.key.hasPrefix("everyone/") }.values) == ["w0", "w1", "w2", "eu"], "the broadcast everywhere")
        // Assigned in turn among the members the leader sees (all four, or three when one's key
        // reached it late): most of them own no share of that bucket.
        #expect(Set(ran.filter { $0.key.hasPrefix("turns/") }.values).count >= 3, "round-robin items on several workers")

        // The leader lists the wide jobs' buckets, which is what lets the others watch shares.
        let store = try await cluster.open()
        let listed = try #require(try await store.get(cluster.layout.wideBuckets), "the leader lists the wide buckets")
        let buckets = try JSONDecoder().decode([String].self, from: Data(listed.value))
        #expect(Set(buckets) == [SchedulerLayout.bucket(of: "turns"), SchedulerLayout.bucket(of: "everyone")])
    }
}

@Suite struct ShareModeTests {
    @Test func idleForAWhileHelpsAndFullForAWhileGoesBackToTheShare() {
        var mode = ShareMode()
        let start = ContinuousClock.now
        #expect(mode.note(idle: true, full: false, now: start) == start + ShareMode.defaultWidenAfterIdle, "look again when due")
        #expect(!mode.helping)
        #expect(mode.note(idle: false, full: false, now: start + .seconds(1)) == nil, "work to claim: nothing due")
        _ = mode.note(idle: true, full: false, now: start + .seconds(1.5))
        #expect(mode.note(idle: true, full: false, now: start + .seconds(3)) != nil && !mode.helping, "idle counted afresh")
        #expect(mode.note(idle: true, full: false, now: start + .seconds(3.5)) == nil && mode.helping, "idle for 2 s: helping")
        #expect(mode.note(idle: false, full: false, now: start + .seconds(60)) == nil && mode.helping, "a free slot: still helping")
        let fullSince = start + .seconds(61)
        #expect(mode.note(idle: false, full: true, now: fullSince) == fullSince + ShareMode.narrowAfterBacklog)
        #expect(mode.note(idle: false, full: true, now: fullSince + .seconds(5)) == nil && !mode.helping, "full for 5 s: the share")
    }
}

/// Waits until `wanted` distinct workers have started a run (cancellable).
final class StartedWorkers: Sendable {
    private let wanted: Int
    private let state = Mutex<(workers: Set<String>, waiters: [AsyncStream<Void>.Continuation])>(([], []))

    init(wanted: Int) { self.wanted = wanted }

    var workers: Set<String> { state.withLock { $0.workers } }

    func started(_ worker: String) async {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        let release = state.withLock { state -> [AsyncStream<Void>.Continuation] in
            state.workers.insert(worker)
            state.waiters.append(continuation)
            guard state.workers.count >= wanted else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in release { waiter.finish() }
        for await _ in stream {}
    }
}

@Suite(.serverLoadLimit) struct HelpingTests {
    /// Long runs queued in one worker's buckets: the workers that do not own them, idle, widen
    /// their watch (``ShareMode``) and take some, so that all three run at once.
    @Test(arguments: SchedulerBackend.all)
    func idleWorkersHelpWithAnotherWorkersBacklog(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let running = StartedWorkers(wanted: 3)
        let handler: JobHandler = { context in
            await running.started(context.worker)
            return RunOutput()
        }
        let ids = ["w0", "w1", "w2"]
        for id in ids { try await cluster.startWorker(id, capacity: 1, handlers: ["work": handler]) }
        try await cluster.waitForWorkers(3)
        let info = WorkerInfo(capacity: 1, weight: 1, labels: [:], handlers: ["work"])
        let members = Dictionary(uniqueKeysWithValues: ids.map { ($0, info) })
        let w0Buckets = BucketShare.owned(by: "w0", info: info, members: members)
        let jobs = (0..<400).map { "long-\($0)" }.filter { w0Buckets.contains(SchedulerLayout.bucket(of: $0)) }.prefix(6)
        #expect(jobs.count == 6)
        let client = try await cluster.client()
        try await client.submit(jobs.map { JobSpec(id: $0, handler: "work") })
        _ = try await cluster.waitForHistory("the six runs", limit: .seconds(60)) { $0.count >= 6 }
        #expect(running.workers == Set(ids), "every worker ran some, though only w0 and the leader watch those buckets")
    }
}

@Suite(.serverLoadLimit) struct DrainingShareTests {
    /// A worker that drains says so in its membership value: the rest of its class takes its
    /// share of the buckets while it finishes its run, new broadcast runs leave it out, and the
    /// leader retires the broadcast run it had pending.
    /// Nobody helps here (``Worker/Configuration/helpAfterIdle`` is `nil`) and the leader cannot
    /// run the jobs, so only the takeover of the share can run them.
    @Test(arguments: SchedulerBackend.all)
    func theOthersTakeADrainingWorkersShareAtOnce(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let info = WorkerInfo(capacity: 1, weight: 1, labels: [:], handlers: ["work"])
        let bBuckets = BucketShare.owned(by: "b", info: info, members: ["b": info, "c": info])
        let inB = (0..<400).map { "job-\($0)" }.filter { bBuckets.contains(SchedulerLayout.bucket(of: $0)) }
        try #require(inB.count >= 2)
        // `hold` lives in b's share: b runs it, and holds it while it drains.
        let (hold, after) = (inB[0], inB[1])
        let release = Signal()
        let holding = Signal()
        let ranBy = Shared<[String: String]>([:])
        let work: JobHandler = { context in
            if context.job == hold {
                holding.fire()
                await release.wait()
            }
            ranBy.withLock { $0[context.job] = context.worker }
            return RunOutput()
        }
        // Started alone, so it leads; it cannot run `work`.
        try await cluster.startWorker("a-leader", handlers: ["other": { _ in RunOutput() }])
        let store = try await cluster.open()
        try await withDeadline("the leader's wide-bucket list") {
            for try await event in store.watch(cluster.layout.wideBuckets) {
                if case .snapshot(let records) = event, !records.isEmpty { return }
                if case .put = event { return }
            }
        }
        let (b, _) = try await cluster.startWorker("b", capacity: 1, gracePeriod: .seconds(120), helpAfterIdle: nil, handlers: ["work": work])
        // c starts once b is a member, so that c's first view has b and never takes b's share
        // (a c that joined first owned every bucket until it saw b, and once claimed `hold`).
        try await cluster.waitForWorkers(2)
        try await cluster.startWorker("c", capacity: 1, helpAfterIdle: nil, handlers: ["work": work])
        try await cluster.waitForWorkers(3)
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: hold, handler: "work"))
        await holding.wait()
        // A broadcast while b is full: c runs its run, b's stays pending.
        try await client.submit(JobSpec(id: "early", handler: "work", placement: .broadcast))
        _ = try await cluster.waitForHistory("c's run of the early broadcast") { $0.contains { $0.job == "early" && $0.worker == "c" } }
        b.drain()
        let membership = Membership(store: store, group: cluster.layout.workers)
        try await withDeadline("b to say it is draining") {
            for try await members in membership.watch() {
                if let member = members.first(where: { $0.id == "b" }),
                    (try? SchedulerJSON.decode(WorkerInfo.self, from: member.metadata, key: .root))?.draining == true
                {
                    return
                }
            }
        }
        #expect(try await client.workers().first { $0.id == "b" }?.info.draining == true)
        // b will never claim its pending broadcast run: the leader retires it now, not once b has left.
        _ = try await cluster.waitForHistory("b's early broadcast run retired") { history in
            history.contains { $0.job == "early" && $0.worker == "b" && $0.outcome == .abandoned }
        }
        try await client.submit([JobSpec(id: after, handler: "work"), JobSpec(id: "all", handler: "work", placement: .broadcast)])
        _ = try await cluster.waitForHistory("\(after) and the broadcast") { history in
            [after, "all"].allSatisfy { job in history.contains { $0.job == job && $0.outcome == .succeeded } }
        }
        #expect(ranBy.value[after] == "c", "c took b's share")
        #expect(try await client.activeRuns(of: "all").isEmpty, "no broadcast run for the draining b")
        release.fire()
        _ = try await cluster.waitForHistory(hold) { $0.contains { $0.job == hold && $0.outcome == .succeeded } }
        #expect(ranBy.value[hold] == "b")
    }
}
