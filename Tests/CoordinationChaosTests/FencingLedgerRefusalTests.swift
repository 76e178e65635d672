import CoordinationChaos
import Testing

@Suite("The chaos sink's fence after a refusal")
struct FencingLedgerRefusalTests {
    @Test("a refused write leaves the fence at the newest accepted token, so a token between the two is refused too")
    func refusalDoesNotLowerTheFence() {
        var ledger = FencingLedger()
        let decisions = [
            ledger.record(FencingLedgerTests.report(.begin, "a", token: 20), at: 1),
            ledger.record(FencingLedgerTests.report(.begin, "a", token: 10, worker: "w2-1"), at: 2),
            ledger.record(FencingLedgerTests.report(.end, "a", token: 15, worker: "w3-1"), at: 3),
        ]
        #expect(decisions == [true, false, false])
    }
}
