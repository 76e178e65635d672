import CoordinationMemory
import CoordinationScheduler
import Foundation
import Logging
import Testing

@testable import CoordinationChaos

/// A workload control never sent (a cancel dropped, a pause never resumed, a replacement never
/// submitted again) leaves a chaos run's control invariants checking nothing: the controls carried
/// out against a scheduler on a memory store, and what the store holds afterwards.
@Suite("The chaos workload's controls")
struct JobControlsTests {
    @Test("a cancel, a pause and a replacement are each carried out, recorded, and leave the job as they should")
    func eachControl() async throws {
        let store = try await MemoryServer().connect(namespace: .root, sessionTTL: .seconds(5))
        var logger = Logger(label: "chaos-controls-test")
        logger.logLevel = .critical
        let scheduler = Scheduler(store: store, logger: logger)
        try await scheduler.layout.ensureFolders(in: store)
        let specs = ["once-0001", "once-0002", "once-0003"].map { JobSpec(id: $0, handler: "shell", payload: Data("true".utf8)) }
        for spec in specs { try await scheduler.submit(spec) }
        let incarnationBefore = try await scheduler.job("once-0003")?.state.incarnation
        let controls = JobControls(
            scheduler: scheduler, observer: StoreObserver(store: store, logger: logger), started: .now, logger: logger)
        try await controls.run(
            [
                Workload.Control(at: .zero, job: "once-0001", action: .cancel),
                Workload.Control(at: .zero, job: "once-0002", action: .pause(.milliseconds(100))),
                Workload.Control(at: .zero, job: "once-0003", action: .replace(specs[2])),
            ], from: .now)
        let records = controls.records.sorted { $0.job < $1.job }
        #expect(records.map(\.job) == ["once-0001", "once-0002", "once-0003"])
        #expect(records.map(\.action) == [.cancel, .pause, .replace])
        #expect(try await scheduler.job("once-0002")?.state.paused == false, "resumed after its hold")
        let replaced = try #require(try await scheduler.job("once-0003"), "submitted again")
        #expect(replaced.state.incarnation != incarnationBefore)
        #expect(records.last?.incarnation == replaced.state.incarnation)
        await store.close()
    }
}
