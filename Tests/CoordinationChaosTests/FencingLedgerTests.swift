import CoordinationChaos
import Testing

@Suite("The chaos sink's fencing rule")
struct FencingLedgerTests {
    static func report(_ kind: SinkReport.Kind, _ job: String, item: Int = 0, token: Int64, worker: String = "w1-1") -> SinkReport {
        SinkReport(kind: kind, resource: ResourceID(job: job, item: item), token: token, run: "r-1", worker: worker, attempt: 1)
    }

    @Test("a token older than the newest accepted one is refused; equal and newer ones are accepted")
    func refusesOlderTokens() {
        var ledger = FencingLedger()
        let decisions = [
            ledger.record(Self.report(.begin, "a", token: 10), at: 1),
            ledger.record(Self.report(.begin, "a", token: 20, worker: "w2-1"), at: 2),
            // The first holder wakes up and reports its end: stale.
            ledger.record(Self.report(.end, "a", token: 10), at: 3),
            ledger.record(Self.report(.end, "a", token: 20, worker: "w2-1"), at: 4),
        ]
        #expect(decisions == [true, true, false, true])
        #expect(ledger.writes.map(\.accepted) == decisions)
        #expect(ledger.writes.map(\.at) == [1, 2, 3, 4])
    }

    @Test("each job and each shard is fenced on its own")
    func resourcesAreIndependent() {
        var ledger = FencingLedger()
        let decisions = [
            ledger.record(Self.report(.begin, "a", token: 50), at: 1),
            ledger.record(Self.report(.begin, "b", token: 5), at: 2),
            ledger.record(Self.report(.begin, "s", item: 1, token: 60), at: 3),
            ledger.record(Self.report(.begin, "s", item: 0, token: 7), at: 4),
            ledger.record(Self.report(.begin, "s", item: 1, token: 59), at: 5),
        ]
        #expect(decisions == [true, true, true, true, false])
    }

    @Test("a refused write does not move the fence")
    func refusalKeepsNewest() {
        var ledger = FencingLedger()
        let decisions = [
            ledger.record(Self.report(.begin, "a", token: 20), at: 1),
            ledger.record(Self.report(.begin, "a", token: 10), at: 2),
            ledger.record(Self.report(.end, "a", token: 20), at: 3),
        ]
        #expect(decisions == [true, false, true])
        #expect(FencingLedger.accepts(1, newest: nil))
    }

    @Test("report lines parse back to what was sent; anything else is rejected")
    func lines() throws {
        let report = Self.report(.end, "once-0001", item: 3, token: 4711)
        #expect(SinkReport(line: report.line) == report)
        #expect(try #require(SinkReport(line: "begin tick 0 12 r-0000001764500000000-000 w3-2 2")).attempt == 2)
        for bad in ["", "begin", "start a 0 1 r w 1", "begin a x 1 r w 1", "begin a 0 token r w 1", "begin a 0 1 r w 1 extra"] {
            #expect(SinkReport(line: bad) == nil, "\(bad)")
        }
    }
}
