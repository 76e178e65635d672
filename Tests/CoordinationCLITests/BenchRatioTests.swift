@testable import CoordinationCLI
import Testing

/// The direction of `coord bench`'s ratios, which its header states: above 1 means coord is
/// faster. The process tests check only that a ratio is printed (a run's figures are noise),
/// so a ratio turned upside down passed them; fixed figures pin the direction here.
@Suite struct BenchRatioTests {
    /// coord twice as fast as the peer on each measure: half its latency, twice its throughput.
    static func twiceAsFast() -> (ours: BenchFigures, peer: BenchFigures) {
        let ours = BenchFigures(
            latencies: Dictionary(uniqueKeysWithValues: BenchRunner.operations.map { ($0, LatencySamples(seconds: [0.001])) }),
            throughput: 2000)
        let peer = BenchFigures(
            latencies: Dictionary(uniqueKeysWithValues: BenchRunner.operations.map { ($0, LatencySamples(seconds: [0.002])) }),
            throughput: 1000)
        return (ours, peer)
    }

    @Test("coord twice as fast as the peer gives 2.00x on every latency and on throughput")
    func fasterIsAboveOne() {
        let (ours, peer) = Self.twiceAsFast()
        var report = BenchReport(store: "memory://", settings: "fixed figures", peerName: "peer")
        report.addLatencies(ours, peer)
        report.addThroughput(ours, peer, inFlight: 8)
        #expect(report.rows.count == BenchRunner.operations.count * 2 + 1)
        for row in report.rows { #expect(row.ratio == "2.00x", "\(row)") }
        #expect(report.rows.last?.coord == "2000/s" && report.rows.last?.peer == "1000/s")
    }

    @Test("a baseline twice as slow as coord gives 2.00x: baseline / coord")
    func baselineRatioIsBaselineOverCoord() {
        let (ours, peer) = Self.twiceAsFast()
        var report = BenchReport(store: "memory://", settings: "fixed figures", peerName: nil)
        report.addBaseline("C client", ours, peer.latencies)
        #expect(report.rows.count == BenchRunner.operations.count * 2)
        for row in report.rows { #expect(row.ratio == "2.00x", "\(row)") }
    }
}
