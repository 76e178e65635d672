import Coordination
import CoordinationTestSupport
import Logging
import Testing
@testable import CoordinationMigration

/// The README promises that a ZooKeeper counter is moved by probes only up to 200,000 numbers
/// ahead (about 10 s of probing): a name further ahead is left behind and reported, not bridged
/// for minutes. Names well beyond (timestamps) are tested elsewhere; this one is just past reach.
@Suite("StoreMigration counters: a number just past the probing reach", .serverLoadLimit)
struct MigrationProbedGapTests {
    static func key(_ path: String) -> Key { try! Key(path) }

    @Test(
        "a copied number 300,000 ahead: moved past in one write where the target can, left behind and reported where it takes probes",
        arguments: TestBackend.all)
    func numberJustPastReach(_ backend: TestBackend) async throws {
        let from = try TestHandles(.memory, test: "probedGap-\(backend.name)")
        let to = try TestHandles(backend, test: "probedGapTarget")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            _ = try await source.create(Self.key("/s/job-0000300000"), value: [1])
            let target = try await to.open()
            let report = try await StoreMigration(source: source, target: target, options: MigrationOptions(), logger: Logger(label: "test.migration")).run()
            #expect(report.counts.countersChecked == 1)
            let next = try await target.create(Self.key("/s/job-"), value: [], mode: .sequential)
            if target is any SequenceCounterAdvancing {
                #expect(report.counts.countersLeftBehind == 0 && report.counts.countersAdvanced == 1)
                #expect(next.key.name > "job-0000300000", "\(next.key)")
            } else {
                #expect(report.counts.countersLeftBehind == 1 && report.counts.countersAdvanced == 0)
                #expect(report.counts.countersLeftBehindUnder == [.init(parent: Self.key("/s"), lowest: 300_000, highest: 300_000)])
                #expect(next.key.name < "job-0000300000", "not bridged by probes: \(next.key)")
            }
        }
    }
}
