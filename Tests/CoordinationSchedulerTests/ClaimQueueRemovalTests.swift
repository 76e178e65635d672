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

    /// An incarnation whose key a claim found gone (its removal unfinished) is left out for good:
    /// through a snapshot, which brings lost races back, and a change of its runs. Another
    /// incarnation of the job (added again once `coord job rm` finished the removal) is offered.
    @Test mutating func leavesOutTheRunsOfAnIncarnationBeingRemovedUntilAnotherIsShown() throws {
        var (queue, view, runOfA) = try twoJobs()
        try deliverState(of: "a", incarnation("aaaaaa"), version: 1, into: &view, &queue)
        #expect(chosen(&queue, view, now: 10).0 == ["a", "b"])
        let notes = [
            queue.noteRemovalUnderWay(of: "a", incarnation: "bbbbbb", view: view),
            queue.noteRemovalUnderWay(of: "a", incarnation: "aaaaaa", view: view),
            queue.noteRemovalUnderWay(of: "a", incarnation: "aaaaaa", view: view),
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
}
