import CoordinationLocalServers
import Foundation
import Testing

@testable import CoordinationChaos

/// A worker fault counted but not applied (a kill that hits no process, a stop never continued)
/// leaves a chaos run green and untested: the injector against real worker processes (bash
/// standing in for `coord worker`, as in ``ChaosWorkerSignalTests``).
@Suite("The chaos fault injector's worker faults")
struct FaultInjectorWorkerTests {
    static func withWorkers(_ count: Int, _ body: ([ChaosWorker]) async throws -> Void) async throws {
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("chaos-test-injector-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var workers: [ChaosWorker] = []
        var roots: [Int32] = []
        do {
            for slot in 1...count {
                let worker = try ChaosWorkerSignalTests.worker(slot: slot, log: folder)
                workers.append(worker)
                try worker.start()
                roots += worker.process.map { [$0.pid] } ?? []
            }
            try await body(workers)
        } catch {
            Issue.record(error)
        }
        roots += workers.compactMap { $0.process?.pid }
        for worker in workers {
            await worker.kill()
            worker.close()
        }
        for root in roots { ChaosWorkerSignalTests.reap(root) }
        try? FileManager.default.removeItem(at: folder)
    }

    @Test("a kill strikes the busy worker when the planned one is idle, ends its process and starts a replacement")
    func killStrikesTheBusyWorker() async throws {
        try await Self.withWorkers(2) { workers in
            let sink = try FencingSink(started: .now)
            defer { sink.stop() }
            _ = sink.decide(SinkReport(kind: .begin, resource: ResourceID(job: "once-0001", item: 0), token: 5, run: "r5", worker: "w2-1", attempt: 1))
            let injector = try await FaultInjectorServerTests.injector(RecordingCluster(leader: 0), workers: workers, sink: sink)
            let idle = try #require(workers[0].process?.pid)
            let busy = try #require(workers[1].process?.pid)
            try await injector.inject(PlannedFault(at: .zero, kind: .workerKill, target: 0, hold: .milliseconds(10)))
            #expect(injector.records.map(\.target) == ["w2-1"])
            #expect(injector.records.first?.note == "replaced by w2-2")
            #expect(!ProcessTable.isAlive(busy))
            #expect(ProcessTable.isAlive(idle))
            let replacement = try #require(workers[1].process?.pid)
            #expect(replacement != busy && ProcessTable.isAlive(replacement))
        }
    }

    @Test("a stop freezes the worker for its hold and continues it; the wake is recorded")
    func stopIsUndone() async throws {
        try await Self.withWorkers(1) { workers in
            let sink = try FencingSink(started: .now)
            defer { sink.stop() }
            let injector = try await FaultInjectorServerTests.injector(RecordingCluster(leader: 0), workers: workers, sink: sink)
            let root = try #require(workers[0].process?.pid)
            let stopping = Task { try await injector.inject(PlannedFault(at: .zero, kind: .workerStop, target: 0, hold: .milliseconds(800))) }
            try await ChaosWorkerSignalTests.becomes("the worker stopped") { ProcessTable.isStopped(root) }
            try await stopping.value
            try await ChaosWorkerSignalTests.becomes("the worker continued") { !ProcessTable.isStopped(root) }
            #expect(injector.records.map(\.kind) == [.workerStop])
            #expect(injector.wakes.map(\.worker) == ["w1-1"])
            #expect(injector.wakes.allSatisfy { $0.stopRevision < $0.wakeRevision })
        }
    }
}
