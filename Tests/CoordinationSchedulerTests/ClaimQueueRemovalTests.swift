import Coordination
import Foundation
import Testing

@testable import CoordinationScheduler

extension ClaimQueueTests {
    /// A job's state of incarnation `tag`, fenced by its key.
    func incarnation(_ tag: String) -> JobState {
        var state = JobState(submittedAt: start)
        state.incarnation = tag
        state.fenced = true
        return state
    }

    /// An incarnation whose key a claim found gone (its removal unfinished) is left out until its
    /// recheck: through a snapshot, which brings lost races back, and a change of its runs. Another
    /// incarnation of the job (added again once `coord job rm` finished the removal) is offered.
    @Test mutating func leavesOutTheRunsOfAnIncarnationBeingRemovedUntilAnotherIsShown() throws {
        var (queue, view, runOfA) = try twoJobs()
        try deliverState(of: "a", incarnation("aaaaaa"), version: 1, into: &view, &queue)
        #expect(chosen(&queue, view, now: 10).0 == ["a", "b"])
        let notes = [
            queue.noteRemovalUnderWay(of: "a", incarnation: "bbbbbb", view: view, now: at(10)),
            queue.noteRemovalUnderWay(of: "a", incarnation: "aaaaaa", view: view, now: at(10)),
            queue.noteRemovalUnderWay(of: "a", incarnation: "aaaaaa", view: view, now: at(10)),
        ]
        #expect(notes == [false, true, false], "news only for the incarnation the view shows, once")
        #expect(chosen(&queue, view, now: 10).0 == ["b"])

        let runs = [try #require(view.run(at: runOfA)), try #require(view.run(at: try layout.run("b", "r")))]
        var snapshot: [Record] = []
        for run in runs { snapshot.append(record(run.key, try SchedulerJSON.encode(run.record), version: run.version)) }
        deliver(.snapshot(snapshot), .runs, &view, &queue)
        #expect(chosen(&queue, view, now: 10).0 == ["b"], "a snapshot brings no run of it back")
        deliver(.put(record(runOfA, try SchedulerJSON.encode(runs[0].record), version: 1)), .runs, &view, &queue)
        #expect(chosen(&queue, view, now: 10).0 == ["b"], "nor does a change of its run")

        try deliverState(of: "a", incarnation("cccccc"), version: 0, into: &view, &queue)
        #expect(chosen(&queue, view, now: 10).0 == ["a", "b"], "another incarnation of the job is offered")
    }

    func at(_ offset: TimeInterval) -> Date { start.addingTimeInterval(offset) }

    /// A job's key may come after its record (`coord migrate --follow`): an incarnation left out
    /// is offered again ``ClaimQueue/removalRecheckDelay`` after the refusal, with no event to
    /// bring it back, and the queue's wake says when. A refusal then leaves it out again.
    @Test mutating func offersTheRunsOfAnIncarnationBeingRemovedAgainAtItsRecheck() throws {
        var (queue, view, _) = try twoJobs()
        try deliverState(of: "a", incarnation("aaaaaa"), version: 1, into: &view, &queue)
        let noted = queue.noteRemovalUnderWay(of: "a", incarnation: "aaaaaa", view: view, now: at(10))
        #expect(noted)
        let recheck = 10 + ClaimQueue.removalRecheckDelay
        let beforeRecheck = chosen(&queue, view, now: 10)
        #expect(beforeRecheck.0 == ["b"])
        #expect(beforeRecheck.1 == at(recheck), "the wake is the recheck")
        #expect(chosen(&queue, view, now: recheck - 1).0 == ["b"])
        let atRecheck = chosen(&queue, view, now: recheck)
        #expect(atRecheck.0 == ["a", "b"], "offered again at the recheck")
        #expect(atRecheck.1 == nil)
        let notedAgain = queue.noteRemovalUnderWay(of: "a", incarnation: "aaaaaa", view: view, now: at(recheck))
        #expect(notedAgain, "a refusal is news again")
        #expect(chosen(&queue, view, now: recheck).0 == ["b"])
    }

    /// The wall clock stepping back an hour does not put a recheck an hour further off.
    @Test mutating func aRecheckComesNoLaterThanItsDelayAfterTheClockStepsBack() throws {
        var (queue, view, _) = try twoJobs()
        try deliverState(of: "a", incarnation("aaaaaa"), version: 1, into: &view, &queue)
        #expect(chosen(&queue, view, now: 3600).0 == ["a", "b"])
        let noted = queue.noteRemovalUnderWay(of: "a", incarnation: "aaaaaa", view: view, now: at(3600))
        #expect(noted)
        let afterStep = chosen(&queue, view, now: 10)
        #expect(afterStep.0 == ["b"])
        #expect(afterStep.1 == at(10 + ClaimQueue.removalRecheckDelay))
        #expect(chosen(&queue, view, now: 10 + ClaimQueue.removalRecheckDelay).0 == ["a", "b"])
    }
}
