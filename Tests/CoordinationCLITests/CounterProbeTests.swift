import Coordination
import CoordinationTestSupport
import Synchronization
import Testing
@testable import CoordinationMigration

/// Carrying sequence counters on a target that moves them only by spending numbers (creating and
/// deleting probe keys, as on ZooKeeper): here the embedded store behind a wrapper that hides
/// its one-write ``SequenceCounterAdvancing``.
@Suite("StoreMigration counter probes")
struct CounterProbeTests {
    /// Forwards everything; its first transaction of deletes is lost, as a connection lost at
    /// that moment would lose it.
    final class LosingProbeDeletes: ForwardingStore {
        let base: any CoordinationStore
        private let lost = Mutex(false)
        init(base: any CoordinationStore) { self.base = base }

        func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
            let deletes = operations.allSatisfy { if case .delete = $0 { true } else { false } }
            let firstDeletes = deletes && lost.withLock { lost in
                defer { lost = true }
                return !lost
            }
            if firstDeletes {
                throw CoordinationError(.connectionLoss, "connection lost (the test's)")
            }
            return try await base.transaction(operations)
        }
    }

    /// Forwards everything (and so moves counters by probes).
    struct Probing: ForwardingStore {
        let base: any CoordinationStore
    }

    /// Forwards everything; cancels the task that sends its third transaction of probes, as a
    /// SIGINT cancels a run.
    final class CancellingOnThirdProbes: ForwardingStore {
        let base: any CoordinationStore
        let probeTransactions = Mutex(0)
        init(base: any CoordinationStore) { self.base = base }

        func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
            let probes = operations.allSatisfy { if case .create(_, _, .ephemeralSequential) = $0 { true } else { false } }
            if probes && probeTransactions.withLock({ count in
                count += 1
                return count == 3
            }) {
                withUnsafeCurrentTask { $0?.cancel() }
            }
            return try await base.transaction(operations)
        }
    }

    static func key(_ path: String) -> Key { try! Key(path) }

    /// The loop spending numbers did not look at cancellation: a Ctrl-C waited for all of them.
    @Test("a run cancelled while spending numbers stops after the probes in flight, and leaves none")
    func cancelledWhileProbing() async throws {
        try await StoreMigrationTests.withStores { source, target in
            _ = try await source.create(Self.key("/q/job-0000100000"), value: [1])
            let probing = CancellingOnThirdProbes(base: target)
            let migration = StoreMigration(source: source, target: probing, options: MigrationOptions(), logger: StoreMigrationTests.logger)
            await #expect(throws: CancellationError.self) { try await migration.run() }
            #expect(probing.probeTransactions.withLock { $0 } == 3, "of about 1,560 needed")
            #expect(try await target.children(of: Self.key("/q")) == ["job-0000100000"])
        }
    }

    /// Probes used to be persistent: a run stopped between creating and deleting them left them in the user's tree for good.
    @Test("a run stopped while moving a counter leaves no probe key once its session ends")
    func noProbeLeftBehind() async throws {
        let from = try TestHandles(.memory, test: "noProbeLeftBehind-from")
        let to = try TestHandles(.memory, test: "noProbeLeftBehind-to")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            // A name numbered 100: the target's counter is far behind it.
            _ = try await source.create(Self.key("/q/job-0000000100"), value: [1])
            let handle = try await to.open()
            let migration = StoreMigration(
                source: source, target: LosingProbeDeletes(base: handle), options: MigrationOptions(), logger: StoreMigrationTests.logger)
            let error = try await #require(throws: CoordinationError.self) { try await migration.run() }
            #expect(error.code == .connectionLoss)
            #expect(error.message.hasPrefix("moving the sequence counter under /q on the target past 100 failed"), "\(error.message)")
            await handle.close()  // its session ends, as the migration's does when coord exits

            let after = try await to.open()
            #expect(try await after.children(of: Self.key("/q")) == ["job-0000000100"])
        }
    }

    @Test("a parent that is a live session's ephemeral key on the target: its sequential children are listed as held, no counter is moved under it")
    func noCounterUnderEphemeralParent() async throws {
        let from = try TestHandles(.memory, test: "noCounterUnderEphemeralParent-from")
        let to = try TestHandles(.memory, test: "noCounterUnderEphemeralParent-to")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            _ = try await source.create(Self.key("/app/held/job-0000000007"), value: [7])
            _ = try await source.create(Self.key("/app/q/job-0000000003"), value: [3])
            let target = try await to.open()
            _ = try await target.create(Self.key("/app/held"), value: Array("lock".utf8), mode: .ephemeral)
            let migration = StoreMigration(
                source: source, target: Probing(base: target), options: MigrationOptions(), logger: StoreMigrationTests.logger)

            let report = try await migration.run()
            #expect(report.counts.heldByEphemeralKeys == [Self.key("/app/held"), Self.key("/app/held/job-0000000007")])
            #expect(report.counts.countersChecked == 1, "/app/q only")
            #expect(try await target.get(Self.key("/app/held"))?.value == Array("lock".utf8))
            let next = try await target.create(Self.key("/app/q/job-"), value: [], mode: .sequential)
            #expect(next.key.name > "job-0000000003")
        }
    }
}
