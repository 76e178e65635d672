import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

@Suite(.serverLoadLimit) struct FinishedJobRetentionTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// The leader removes a finished one-shot job, with its state and history, once
    /// the retention has passed since its last run finished, and nothing else: not a job finished
    /// more recently, not one triggered again whose run is still active, not a one-shot job whose
    /// time has not come, not a recurring job.
    @Test(arguments: SchedulerBackend.all)
    func finishedOneShotJobsAreRemovedAfterTheirRetention(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let release = Signal()
        let hold = firstReturnsThenWaits(for: release)
        try await cluster.startWorker(
            "w0", finishedJobRetention: .seconds(10), handlers: ["noop": { _ in RunOutput() }, "hold": hold])
        let client = try await cluster.client()
        let layout = cluster.layout
        let watcher = try await cluster.open()
        func exists(_ job: String) async throws -> Bool { try await watcher.exists(try layout.job(job)) }

        try await client.submit(JobSpec(id: "later", handler: "noop", schedule: .once(at: Self.start.addingTimeInterval(3600))))
        try await client.submit(JobSpec(id: "hourly", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        try await client.submit(JobSpec(id: "a", handler: "noop"))
        try await client.submit(JobSpec(id: "c", handler: "hold"))
        _ = try await cluster.waitForHistory("a and c to run") { successes("a")($0) && successes("c")($0) }
        // c runs again (and waits) before anything is due.
        _ = try await client.trigger("c")
        _ = try await cluster.waitForRuns(of: "c", "c's second run to start") { $0.contains { $0.status == .running } }
        clock.advance(by: 6)
        try await client.submit(JobSpec(id: "b", handler: "noop"))
        _ = try await cluster.waitForHistory("b to run") { successes("b")($0) }

        clock.advance(by: 5)  // a finished 11 s ago, b 5 s ago
        try await waitUntilGone(try layout.job("a"), store: watcher, clock: clock, layout: layout)
        #expect(try await !watcher.exists(try layout.history(of: "a")), "the history went with the job")
        #expect(try await exists("b"), "b finished only 5 s ago")
        #expect(try await exists("c"), "c has an active run")
        #expect(try await exists("later"), "later has not run yet")
        #expect(try await exists("hourly"), "a recurring job is never finished")
        #expect(try await client.jobs().map(\.spec.id).sorted() == ["b", "c", "hourly", "later"])

        release.fire()
        _ = try await cluster.waitForHistory("c's second run to end") { successes("c", 2)($0) }
        clock.advance(by: 6)  // b finished 11 s ago, c 6 s ago
        try await waitUntilGone(try layout.job("b"), store: watcher, clock: clock, layout: layout)
        #expect(try await exists("c"), "c finished again only 6 s ago")
        clock.advance(by: 5)
        try await waitUntilGone(try layout.job("c"), store: watcher, clock: clock, layout: layout)
        #expect(try await client.jobs().map(\.spec.id).sorted() == ["hourly", "later"])
    }

    /// More finished jobs than one pass reads or removes: later passes follow at once, without
    /// waiting for the next look for newly finished jobs, whether a pass removed something (whose
    /// watch events wake the leader anyway) or only read, until every one is gone.
    @Test(arguments: SchedulerBackend.all)
    func aBacklogOfFinishedJobsIsRemovedOverSeveralPasses(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        // Looks every second; nothing is due before the clock moves, so the history can be counted first.
        try await cluster.startWorker("w0", finishedJobRetention: .seconds(4), handlers: ["noop": { _ in RunOutput() }])
        let client = try await cluster.client()
        let count = 105
        try await client.submit((0..<count).map { JobSpec(id: "j\($0)", handler: "noop") })
        // A bound, not a timing: with the whole suite running beside it on a throttled 2-core
        // machine, 30 s once saw only 88 of the 105 runs.
        _ = try await cluster.waitForHistory("\(count) runs", limit: .seconds(90)) { $0.filter { $0.outcome == .succeeded }.count >= count }
        // At +1 s nothing is due yet: passes that only read, until all are read and the next
        // look is set for +2 s.
        clock.advance(by: 1)
        try await withDeadline("the finished jobs to be read") { await clock.waitForSleeper(until: Self.start.addingTimeInterval(2)) }
        clock.advance(by: 3)
        let watcher = try await cluster.open()
        try await waitUntilNoJob(in: cluster.layout.jobs, layout: cluster.layout, store: watcher, clock: clock)
        for folder in [cluster.layout.history] {
            var left: [String] = []
            for bucket in SchedulerLayout.bucketNames { left += try await watcher.children(of: try folder.child(bucket)) }
            #expect(left.isEmpty, "\(folder) still holds \(left)")
        }
    }

    /// A history longer than one transaction holds (entries written by hand here) is deleted in
    /// chunks, oldest first, and the job goes with the last one.
    @Test(arguments: SchedulerBackend.all)
    func aLongHistoryIsRemovedInChunks(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        try await cluster.startWorker("w0", finishedJobRetention: .seconds(4), handlers: ["noop": { _ in RunOutput() }])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "long", handler: "noop"))
        _ = try await cluster.waitForHistory("the run", successes("long"))
        let store = try await cluster.open()
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        let entry = Array(try encoder.encode(HistoryEntry(job: "long", finishedAt: Self.start, outcome: .skipped)))
        for _ in 0..<70 {
            _ = try await store.create(try cluster.layout.newHistoryEntry(of: "long"), value: entry, mode: .sequential)
        }
        #expect(try await store.children(of: try cluster.layout.history(of: "long")).count == 71)
        clock.advance(by: 5)
        try await waitUntilGone(try cluster.layout.job("long"), store: store, clock: clock, layout: cluster.layout)
        #expect(try await !store.exists(try cluster.layout.history(of: "long")))
    }

    /// Beyond the limit on finished jobs kept, the ones that finished first are removed, long
    /// before their retention; the newest stay.
    @Test(arguments: SchedulerBackend.all)
    func finishedJobsBeyondTheLimitAreRemovedOldestFirst(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        try await cluster.startWorker("w0", finishedJobLimit: 2, handlers: ["noop": { _ in RunOutput() }])
        let client = try await cluster.client()
        let layout = cluster.layout
        for job in ["a", "b", "c", "d"] {
            try await client.submit(JobSpec(id: job, handler: "noop"))
            _ = try await cluster.waitForHistory("\(job) to run", successes(job))
            clock.advance(by: 1)
        }
        // Each look for finished jobs (a minute apart, with a retention of a day) removes what its
        // view shows over the limit, oldest first. Under load the leader's view may not have the
        // latest runs' ends at a look (CI once saw a look that removed nothing), so the clock moves
        // a minute at a time, each time until the leader has looked and set its next look, until a
        // and b are gone: c and d stay however many looks pass.
        let watcher = try await cluster.open()
        var looks = 0
        func aOrBLeft() async throws -> Bool {
            if try await watcher.exists(try layout.job("a")) { return true }
            return try await watcher.exists(try layout.job("b"))
        }
        while try await aOrBLeft() {
            looks += 1
            try #require(looks <= 10, "a and b are still there after 10 looks")
            clock.advance(by: 60)
            let next = clock.now.addingTimeInterval(60)
            try await withDeadline("the look at +\(Int(clock.now.timeIntervalSince(Self.start))) s") {
                await clock.waitForSleeper(until: next)
            }
        }
        #expect(try await client.jobs().map(\.spec.id).sorted() == ["c", "d"])
        #expect(try await !watcher.exists(try layout.history(of: "a")))
        #expect(try await client.history(of: "d").count == 1)
    }

    /// A finished one-shot job removed and added again under the same id, its record at the same
    /// version as before, finishes anew between two looks: it is kept for the retention from its
    /// own finish, not from the removed job's (the finish time read for that one was kept, and
    /// the new job went 5 s early here).
    @Test(arguments: SchedulerBackend.all)
    func aJobAddedAgainUnderTheSameIdIsKeptForItsOwnRetention(backend: SchedulerBackend) async throws {
        let (clock, cluster, client, watcher, jobKey) = try await clusterWhoseLeaderReadAFinished(backend)
        defer { Task { await cluster.shutdown() } }
        let first = try #require(try await watcher.get(jobKey))

        clock.advance(by: 2)
        try await client.remove("a")
        try await client.submit(JobSpec(id: "a", handler: "noop"))
        _ = try await cluster.waitForHistory("the new a to run", successes("a"))
        let second = try #require(try await watcher.get(jobKey))
        #expect(second.version == first.version && second.createRevision != first.createRevision)

        clock.advance(by: 6)  // the removed job finished 11 s ago, the new one 6 s ago
        try await withDeadline("the look at +11") { await clock.waitForSleeper(until: Self.start.addingTimeInterval(13.5)) }
        #expect(try await watcher.exists(jobKey), "the new a finished only 6 s ago")
        clock.advance(by: 5)
        try await withDeadline("the look at +16") { await clock.waitForSleeper(until: Self.start.addingTimeInterval(18.5)) }
        try await lookUntilGone(jobKey, clock: clock, store: watcher)
    }

    /// A one-shot job the leader removed, added again under the same id and finished before the
    /// leader's next look (its view showed a finished job of that id at every look): it is
    /// removed once its retention has passed too, not taken for the job already removed and
    /// kept forever.
    @Test(arguments: SchedulerBackend.all)
    func aJobAddedAgainAfterItsRemovalIsRemovedInItsTurn(backend: SchedulerBackend) async throws {
        let (clock, cluster, client, watcher, jobKey) = try await clusterWhoseLeaderReadAFinished(backend)
        defer { Task { await cluster.shutdown() } }
        clock.advance(by: 8)  // the look at +11 removes it, and sets the next for +13.5
        try await withDeadline("the look at +11") { await clock.waitForSleeper(until: Self.start.addingTimeInterval(13.5)) }
        try await lookUntilGone(jobKey, clock: clock, store: watcher)

        try await client.submit(JobSpec(id: "a", handler: "noop"))
        _ = try await cluster.waitForHistory("the new a to run", successes("a"))
        clock.advance(by: 11)  // the new a finished 11 s ago: the look now removes it
        try await withDeadline("the look at +11 s later") { await clock.waitForSleeper(until: clock.now.addingTimeInterval(2.5)) }
        try await lookUntilGone(jobKey, clock: clock, store: watcher)
    }

    /// One worker keeping finished jobs 10 s (a look every 2.5 s), where the one-shot job `a` has
    /// run at +0 and the look at +3 has read when it finished (the next look is set for +5.5).
    private func clusterWhoseLeaderReadAFinished(
        _ backend: SchedulerBackend
    ) async throws -> (clock: ManualWallClock, cluster: TestCluster, client: Scheduler, watcher: any CoordinationStore, jobKey: Key) {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        do {
            try await cluster.startWorker("w0", finishedJobRetention: .seconds(10), handlers: ["noop": { _ in RunOutput() }])
            let client = try await cluster.client()
            let watcher = try await cluster.open()
            let jobKey = try cluster.layout.job("a")
            try await client.submit(JobSpec(id: "a", handler: "noop"))
            _ = try await cluster.waitForHistory("a to run", successes("a"))
            clock.advance(by: 3)
            try await withDeadline("the look at +3") { await clock.waitForSleeper(until: Self.start.addingTimeInterval(5.5)) }
            return (clock, cluster, client, watcher, jobKey)
        } catch {
            await cluster.shutdown()
            throw error
        }
    }

    /// Moves the clock on a look at a time (2.5 s apart, with a retention of 10 s) until `key`
    /// is gone: a look may find the leader's view (a watch of its own) behind the end of a run,
    /// or behind a removal, and a later one removes it. Bounded by the deadline, not by a count
    /// of looks: they take no time while the view catches up.
    private func lookUntilGone(_ key: Key, clock: ManualWallClock, store: any CoordinationStore) async throws {
        try await withDeadline("\(key) to be removed, one look after another") {
            while try await store.exists(key) {
                try Task.checkCancellation()
                clock.advance(by: 2.5)
                await clock.waitForSleeper(until: clock.now.addingTimeInterval(2.5))
            }
        }
    }

    /// Waits, on a watch, until `key` does not exist or, for `.children`, has no children left.
    private func waitUntilGone(_ key: Key, store: any CoordinationStore, clock: ManualWallClock, layout: SchedulerLayout) async throws {
        try await waitUntilEmpty(key, scope: .key, store: store, clock: clock, layout: layout) { _ in true }
    }

    /// Waits until no job's key is left in the bucketed `folder`.
    private func waitUntilNoJob(in folder: Key, layout: SchedulerLayout, store: any CoordinationStore, clock: ManualWallClock) async throws {
        try await waitUntilEmpty(folder, scope: .grandchildren, store: store, clock: clock, layout: layout) { layout.isJobKey($0, in: folder) }
    }

    /// Waits until a watch of `key` with `scope` shows no key that `counts`.
    ///
    /// A wait that times out says what was left and where the leader's clock stood: the wake-ups
    /// asked for (its next look among them) and each job left's record, runs and history. A
    /// bare time-out (seen once on memory, in `finishedOneShotJobsAreRemovedAfterTheirRetention`)
    /// told neither a look that never came from one that left the job.
    private func waitUntilEmpty(
        _ key: Key, scope: WatchScope, store: any CoordinationStore, clock: ManualWallClock, layout: SchedulerLayout,
        counting counts: @escaping @Sendable (Key) -> Bool
    ) async throws {
        let left = Shared<Set<Key>?>(nil)
        do {
            try await withDeadline("\(key) (\(scope)) to be removed") {
                var present: Set<Key> = []
                for try await event in store.watch(key, scope: scope) {
                    switch event {
                    case .snapshot(let records): present = Set(records.map(\.key).filter(counts))
                    case .put(let record): if counts(record.key) { present.insert(record.key) }
                    case .delete(let key): present.remove(key)
                    }
                    left.withLock { $0 = present }
                    if present.isEmpty { return }
                }
                throw CoordinationError(.unavailable, "the watch of \(key) ended")
            }
        } catch let error as CoordinationError where error.code == .timeout {
            func since(_ date: Date) -> String { "+\(date.timeIntervalSince(Self.start)) s" }
            var report = ["\(error.message)", "the clock at \(since(clock.now))", "wake-ups asked for at \(clock.sleepers.map(since))"]
            guard let present = left.withLock({ $0 }) else { throw CoordinationError(.timeout, (report + ["the watch delivered no snapshot"]).joined(separator: "; ")) }
            for job in present.sorted() {
                let record = try? await store.get(job)
                let runs = (try? await store.children(of: job)) ?? []
                let history = (try? await store.children(of: try layout.history(of: job.name)).count).map(String.init) ?? "none"
                report.append(
                    "\(job) left at version \(record.map { String($0.version) } ?? "-") (created at \(record.map { String($0.createRevision) } ?? "-")), "
                        + "beneath it \(runs), history entries \(history)")
            }
            throw CoordinationError(.timeout, report.joined(separator: "; "))
        }
    }
}
