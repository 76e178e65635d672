import Coordination
import CoordinationTestSupport
import Testing
@testable import CoordinationCLI
@testable import CoordinationMigration

/// Names that only look sequential (`login-1700000000`, a timestamp) beside genuinely sequential
/// ones under one parent: the counter must still pass the copied numbers within reach.
@Suite("StoreMigration counters beside names that only look sequential", .serverLoadLimit)
struct LookalikeSequenceNumberTests {
    static func key(_ path: String) -> Key { try! Key(path) }

    /// One lookalike used to leave its parent's counter behind entirely on ZooKeeper, so the next
    /// sequential key sorted before the copied `job-0000000042` (a queue's order broken).
    @Test(
        "a lookalike name beside a sequential one: the next sequential key sorts after the copied one; only the lookalike is reported left behind",
        arguments: TestBackend.all)
    func lookalikeBesideSequentialName(_ backend: TestBackend) async throws {
        let from = try TestHandles(.memory, test: "lookalikeBesideSequentialName-\(backend.name)")
        let to = try TestHandles(backend)
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            _ = try await source.create(Self.key("/s/login-1700000000"), value: Array("alice".utf8))
            _ = try await source.create(Self.key("/s/job-0000000042"), value: [42])
            let target = try await to.open()
            let report = try await MigrationServerTests.migration(source, target).run()
            #expect(report.counts.countersChecked == 1)
            #expect(report.counts.countersAdvanced == 1)
            let next = try await target.create(Self.key("/s/job-"), value: [], mode: .sequential)
            #expect(next.key.name > "job-0000000042", "\(next.key)")
            if target is any SequenceCounterAdvancing {
                #expect(report.counts.countersLeftBehind == 0)
            } else {
                #expect(report.counts.countersLeftBehind == 1)
                #expect(report.counts.countersLeftBehindUnder.map(\.parent) == [Self.key("/s")])
                #expect(next.key.name < "job-1700000000", "\(next.key)")
            }
        }
    }

    /// On a target moved by probes: the numbers beyond reach are listed as a range, the rest passed.
    @Test("several lookalikes and the last number beside sequential names: the counter passes the sequential ones; the summary lists the rest as a range")
    func lookalikesAsRange() async throws {
        try await StoreMigrationTests.withStores { source, target in
            for name in ["job-0000000007", "job-0000001000", "login-1700000000", "login-1700000500", "end-9999999999"] {
                _ = try await source.create(Self.key("/q/" + name), value: [1])
            }
            let migration = StoreMigration(
                source: source, target: CounterProbeTests.Probing(base: target), options: MigrationOptions(),
                logger: StoreMigrationTests.logger)
            let report = try await migration.run()
            #expect(report.counts.countersAdvanced == 1)
            #expect(report.counts.countersLeftBehindUnder == [
                MigrationCounts.CounterLeftBehind(parent: Self.key("/q"), lowest: 1_700_000_000, highest: 9_999_999_999)
            ])
            let next = try await target.create(Self.key("/q/job-"), value: [], mode: .sequential)
            // Deleting the probes may move the counter on (ZooKeeper's `cversion` counts deletes too).
            let number = try #require(StoreMigration.sequenceNumber(next.key.name))
            #expect(number > 1000 && number < 1_700_000_000, "\(next.key)")
            let summary = MigrateCommand.summary(report.counts, elapsed: report.elapsed, rate: 0, dryRun: false)
            #expect(summary.contains("1 left behind: /q (names numbered 1700000000 to 9999999999)"), "\(summary)")
        }
    }

    /// The last number used to leave the whole parent behind, even where the counter moves at once.
    @Test("a name numbered 9999999999 beside others: a target that moves its counter at once passes the others")
    func lastNumberBesideOthers() async throws {
        try await StoreMigrationTests.withStores { source, target in
            _ = try await source.create(Self.key("/q/job-0000000042"), value: [1])
            _ = try await source.create(Self.key("/q/end-9999999999"), value: [1])
            let report = try await StoreMigrationTests.migration(source, target).run()
            #expect(report.counts.countersAdvanced == 1)
            #expect(report.counts.countersLeftBehindUnder.map(\.lowest) == [9_999_999_999])
            let next = try await target.create(Self.key("/q/job-"), value: [], mode: .sequential)
            #expect(next.key.name == "job-0000000043", "\(next.key)")
        }
    }
}
