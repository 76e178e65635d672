import CoordinationChaos
import Testing

/// How long a struck worker's runs waited for a takeover, measured from hand-made sink writes.
@Suite("The chaos takeover times")
struct TakeoverTimesTests {
    typealias Made = InvariantCheckerTests

    /// w1-1 is killed at 3 s holding `a` (token 10), taken over by w2-1 at 5.5 s. Left out: its
    /// run of `b`, ended before the fault; w2-1's run of `c`, begun again later by another token;
    /// w1-1's fire of the cron job `tick`, whose next fire is no takeover.
    static let writes = [
        Made.write(.begin, "a", token: 10, at: 1),
        Made.write(.begin, "b", token: 11, at: 1.5), Made.write(.end, "b", token: 11, at: 2),
        Made.write(.begin, "c", token: 12, worker: "w2-1", at: 1),
        Made.write(.begin, "tick", token: 13, run: "r-t1", at: 2.5),
        Made.write(.begin, "tick", token: 23, run: "r-t2", worker: "w2-1", at: 3.5),
        Made.write(.begin, "a", token: 20, worker: "w2-1", at: 5.5),
        Made.write(.end, "c", token: 12, worker: "w2-1", at: 6),
        Made.write(.begin, "b", token: 21, worker: "w3-1", at: 6.5),
        Made.write(.begin, "c", token: 22, worker: "w3-1", at: 7),
    ]

    @Test("only the victim's runs open at the fault count, each until a newer token begins it after the fault")
    func victimsOpenRuns() {
        let faults = [FaultRecord(kind: .workerKill, target: "w1-1", at: 3, until: 4)]
        #expect(TakeoverTimes.measure(faults: faults, writes: Self.writes, cronJobs: ["tick"]) == [.workerKill: [2.5]])
    }

    @Test("a run already begun again by a newer token before the fault is no run the fault left open")
    func takenOverBeforeTheFault() {
        // `d` (token 14 on w1-1) was taken over by token 16 before the fault (its end refused,
        // so never ended at the sink); token 26 begins it again later, waiting for no fault of w1-1.
        let writes = [
            Made.write(.begin, "d", token: 14, at: 1), Made.write(.begin, "d", token: 16, worker: "w2-1", at: 2),
            Made.write(.end, "d", token: 14, at: 2.5, accepted: false), Made.write(.begin, "d", token: 26, worker: "w3-1", at: 7),
        ]
        let faults = [FaultRecord(kind: .workerStop, target: "w1-1", at: 3, until: 4)]
        #expect(TakeoverTimes.measure(faults: faults, writes: writes, cronJobs: []).isEmpty)
    }
}
