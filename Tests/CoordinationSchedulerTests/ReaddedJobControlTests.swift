import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// A pause or a trigger reads the job's record and writes it back at the version read. A job
/// removed and added again under the same id between the two starts over at that version: the
/// removed job's record (definition, state, incarnation) was written over the new one.
@Suite(.serverLoadLimit) struct ReaddedJobControlTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    enum Control: String, Sendable, CaseIterable, CustomTestStringConvertible {
        case pause, trigger
        var testDescription: String { rawValue }
    }

    @Test(arguments: SchedulerBackend.all, Control.allCases)
    func aJobAddedAgainAsItIsControlledKeepsItsNewDefinition(backend: SchedulerBackend, control: Control) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let plain = try await cluster.client()
        let replacement = JobSpec(id: "job", handler: "noop", payload: Data("new".utf8), schedule: .every(.seconds(3600), start: nil))
        let store = JobReplacedAtItsWriteStore(try await cluster.open(), job: try layout.job("job")) {
            try await plain.remove("job")
            try await plain.submit(replacement)
        }
        let client = Scheduler(store: store, layout: layout, clock: clock.wallClock)
        try await plain.submit(JobSpec(id: "job", handler: "noop", payload: Data("old".utf8), schedule: .every(.seconds(60), start: nil)))
        switch control {
        case .pause: try await client.pause("job")
        case .trigger: try await client.trigger("job")
        }
        #expect(store.replaced, "the job was replaced between the read and the write")
        let stored = try await plain.job("job")
        #expect(stored?.spec == replacement, "the job added again keeps its definition: \(String(describing: stored?.spec.payload))")
        // Applied to the job there now, as if it had come after the replacement.
        switch control {
        case .pause: #expect(stored?.state.paused == true)
        case .trigger: #expect(stored?.state.triggers == 1)
        }
    }

    /// A removal that stopped after deleting the job's incarnation key (the first of its deletions)
    /// leaves a job whose changes are refused, as a job being removed, rather than retried for
    /// ever; removing it again finishes the removal.
    @Test(arguments: SchedulerBackend.all)
    func aJobWhoseRemovalStoppedHalfwayRefusesChangesUntilRemovedAgain(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "noop", schedule: .every(.seconds(60), start: nil)))
        let tag = try #require(try await client.job("job")?.state.incarnation)
        try await client.store.delete(try layout.incarnation(of: "job", tag: tag), ifVersion: nil)
        await #expect {
            try await client.pause("job")
        } throws: { error in
            (error as? CoordinationError)?.code == .noNode
        }
        await #expect {
            try await client.trigger("job")
        } throws: { error in
            (error as? CoordinationError)?.code == .noNode
        }
        #expect(try await client.job("job")?.state.paused == false)
        try await client.remove("job")
        #expect(try await client.job("job") == nil)
    }

    /// A job whose record was written by an earlier version (no `fenced`, no incarnation key,
    /// no tag) still has its fire times materialised, and can be paused, triggered and removed;
    /// and a root made by an earlier version (no incarnations folder) takes new, fenced jobs.
    @Test(arguments: SchedulerBackend.all)
    func aJobAddedByAnEarlierVersionStillFiresAndCanBePaused(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let store = try await cluster.open()
        try await layout.ensureFolders(in: store)
        try await store.delete(layout.incarnations, ifVersion: nil, recursive: true)
        let spec = JobSpec(id: "job", handler: "noop", schedule: .every(.seconds(60), start: nil))
        let earlier = Data(
            #"{"spec":\#(String(decoding: try SchedulerJSON.encode(spec), as: UTF8.self)),"state":{"submittedAt":\#(Int64(Self.start.timeIntervalSince1970 * 1000))}}"#
                .utf8)
        _ = try await store.transaction([
            .create(try layout.job("job"), value: Array(earlier), mode: .persistent),
            .create(try layout.history(of: "job"), value: [], mode: .persistent),
        ])
        let client = try await cluster.client()
        #expect(try await client.job("job")?.state.fenced == false)
        #expect(try await client.job("job")?.state.incarnation == nil)
        try await cluster.startWorker("w0", handlers: ["noop": { _ in RunOutput() }])
        try await withDeadline("the leader's wake for the first fire time") {
            await clock.waitForSleeper(until: Self.start.addingTimeInterval(60))
        }
        clock.advance(by: 60)
        _ = try await cluster.waitForHistory("the first fire time's run", successes("job"))
        #expect(try await client.job("job")?.state.lastMaterialized == Self.start.addingTimeInterval(60))
        try await client.pause("job")
        #expect(try await client.job("job")?.state.paused == true)
        #expect(try await client.trigger("job") == [RunID.triggered(number: 1, item: 0)])
        try await client.remove("job")
        #expect(try await client.job("job") == nil)
        // The worker made the folder as it started: gone again, as in a root an earlier version
        // made, the submission makes it.
        try await store.delete(layout.incarnations, ifVersion: nil, recursive: true)
        try await client.submit(JobSpec(id: "next", handler: "noop"))
        let next = try #require(try await client.job("next"))
        #expect(next.state.fenced)
        #expect(try await store.exists(try layout.incarnation(of: "next", tag: try #require(next.state.incarnation))))
    }
}

/// Runs `replace` (the job removed and added again under its id) once, at the first write that
/// sets `job`'s record at a version: before it, or (``Moment/afterAFirstChunk``) right after a
/// transaction that also creates runs beneath it, a broadcast's first chunk.
final class JobReplacedAtItsWriteStore: ForwardingStore {
    enum Moment: Sendable { case beforeTheWrite, afterAFirstChunk }

    let base: any CoordinationStore
    private let job: Key
    private let moment: Moment
    private let replace: @Sendable () async throws -> Void
    private let done = Atomic<Bool>(false)

    init(_ base: any CoordinationStore, job: Key, moment: Moment = .beforeTheWrite, replace: @escaping @Sendable () async throws -> Void) {
        self.base = base
        self.job = job
        self.moment = moment
        self.replace = replace
    }

    var replaced: Bool { done.load(ordering: .relaxed) }

    /// Whether this is the moment's first write: the one `replace` runs at.
    private func first() -> Bool { !done.exchange(true, ordering: .relaxed) }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        let setsJob = operations.contains { if case .set(job, _, .some) = $0 { true } else { false } }
        switch moment {
        case .beforeTheWrite:
            if setsJob && first() { try await replace() }
            return try await base.transaction(operations)
        case .afterAFirstChunk:
            let results = try await base.transaction(operations)
            let createsRun = operations.contains { if case .create(let key, _, _) = $0 { key.parent == job } else { false } }
            if setsJob && createsRun && first() { try await replace() }
            return results
        }
    }

    func set(_ key: Key, value: [UInt8], ifVersion: Int64?) async throws -> Record {
        if moment == .beforeTheWrite, key == job, ifVersion != nil, first() { try await replace() }
        return try await base.set(key, value: value, ifVersion: ifVersion)
    }
}
