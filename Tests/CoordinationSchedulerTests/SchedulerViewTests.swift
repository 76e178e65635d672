import Coordination
import Foundation
import Testing

@testable import CoordinationScheduler

/// The view counts each worker's load by the run records, and holds a running run claimed while
/// its worker is a member with the registration the record names.
struct SchedulerViewTests {
    let layout = SchedulerLayout()
    let start = Date(timeIntervalSince1970: 1_000_000)

    func record(_ key: Key, _ bytes: [UInt8], version: Int64 = 0, revision: Int64 = 1) -> Record {
        Record(key: key, value: bytes, version: version, createRevision: revision, modRevision: revision, isEphemeral: false)
    }

    func run(_ job: String) -> RunRecord {
        RunRecord(job: job, run: "r", item: 0, itemCount: 1, itemParameter: nil, scheduledAt: start, notBefore: start)
    }

    /// One watch of `R/jobs` feeds two parts of the view: job records, and runs (a claim, out of
    /// the watch's scope, would go with the runs, where the view leaves it out).
    @Test func theJobsWatchIsSplitIntoDefinitionsAndRuns() throws {
        let definition = record(try layout.job("a"), [])
        let run = record(try layout.run("a", "r"), [])
        let claim = record(try layout.claim("a", "r"), [])
        var delivered: [(SchedulerView.Folder, WatchEvent)] = []
        for event in [WatchEvent.snapshot([definition, run, claim]), .put(definition), .put(run), .delete(claim.key), .delete(definition.key)] {
            SchedulerView.split(event, layout: layout) { delivered.append(($0, $1)) }
        }
        #expect(delivered.map(\.0) == [.jobs, .runs, .jobs, .runs, .runs, .jobs])
        #expect(delivered.map(\.1) == [
            .snapshot([definition]), .snapshot([run, claim]), .put(definition), .put(run), .delete(claim.key), .delete(definition.key),
        ])
    }

    func running(_ job: String, by worker: String, registration: Int64) -> RunRecord {
        var record = run(job)
        record.status = .running
        record.worker = worker
        record.registration = registration
        return record
    }

    func member(_ id: String, joinedAt revision: Int64) throws -> Record {
        record(try layout.worker(id), try SchedulerJSON.encode(WorkerInfo(capacity: 4, weight: 1, labels: [:], handlers: ["h"])), revision: revision)
    }

    @Test func loadAndHoldingFollowTheRunRecordsAndTheMembers() throws {
        var view = SchedulerView(layout: layout)
        view.apply(.snapshot([]), to: .runs)
        view.apply(.snapshot([]), to: .workers)
        let runA = try layout.run("a", "r")
        let runB = try layout.run("b", "r")
        view.apply(.put(record(runA, try SchedulerJSON.encode(run("a")))), to: .runs)
        view.apply(.put(record(runB, try SchedulerJSON.encode(run("b")))), to: .runs)
        #expect(view.runningByWorker.isEmpty)
        #expect(!view.allRunsHeld(ofJob: "a"))

        view.apply(.put(record(runA, try SchedulerJSON.encode(running("a", by: "w1", registration: 10)))), to: .runs)
        view.apply(.put(record(runB, try SchedulerJSON.encode(running("b", by: "w1", registration: 10)))), to: .runs)
        #expect(view.runningByWorker == ["w1": 2])
        #expect(view.jobs(runningOn: "w1") == ["a", "b"])
        #expect(!view.allRunsHeld(ofJob: "a"), "running, but its worker is not a member (yet, or any more)")

        view.apply(.put(try member("w1", joinedAt: 10)), to: .workers)
        #expect(view.allRunsHeld(ofJob: "a") && view.allRunsHeld(ofJob: "b"))
        // Its session ended: the member key went, and the claims with it.
        view.apply(.delete(try layout.worker("w1")), to: .workers)
        #expect(!view.allRunsHeld(ofJob: "a"))
        // Back with a new session: a new registration, which the runs' claims were not made under.
        view.apply(.put(try member("w1", joinedAt: 11)), to: .workers)
        #expect(!view.allRunsHeld(ofJob: "a") && !view.allRunsHeld(ofJob: "b"))
        #expect(view.registration(of: "w1") == 11)

        // Taken over by another worker: the load moves; a run deleted takes its load along.
        view.apply(.put(try member("w2", joinedAt: 12)), to: .workers)
        view.apply(.put(record(runA, try SchedulerJSON.encode(running("a", by: "w2", registration: 12)), revision: 13)), to: .runs)
        #expect(view.runningByWorker == ["w1": 1, "w2": 1])
        #expect(view.allRunsHeld(ofJob: "a"))
        view.apply(.delete(runB), to: .runs)
        #expect(view.runningByWorker == ["w2": 1])
        #expect(view.runs(ofJob: "b").isEmpty)
        #expect(view.jobs(runningOn: "w1").isEmpty)

        // A claim is out of the watch's scope; were one delivered, it would change nothing.
        view.apply(.put(record(try layout.claim("a", "r"), Array("w3".utf8))), to: .runs)
        view.apply(.delete(try layout.claim("a", "r")), to: .runs)
        #expect(view.runningByWorker == ["w2": 1] && view.allRunsHeld(ofJob: "a"))

        view.apply(.snapshot([]), to: .runs)
        #expect(view.runningByWorker.isEmpty, "a snapshot replaces the runs and their load")
    }

    @Test func recordsThatDoNotDecodeAreLeftOutWhenLookedAt() throws {
        var view = SchedulerView(layout: layout)
        let good = try layout.run("a", "good")
        let bad = try layout.run("a", "bad")
        view.apply(.snapshot([record(good, try SchedulerJSON.encode(run("a"))), record(bad, Array("{".utf8))]), to: .runs)
        view.apply(.snapshot([record(try layout.job("a"), Array("not json".utf8), version: 3)]), to: .jobs)
        #expect(view.run(at: good)?.record.job == "a")
        #expect(view.run(at: bad) == nil)
        #expect(view.runs(ofJob: "a").map(\.key) == [good])
        #expect(view.state(of: "a") == nil)
        #expect(view.specs["a"] == nil)

        let stored = JobRecord(spec: JobSpec(id: "a", handler: "h"), state: JobState(submittedAt: start))
        view.apply(.put(record(try layout.job("a"), try SchedulerJSON.encode(stored), version: 4)), to: .jobs)
        #expect(view.state(of: "a")?.version == 4)
        #expect(view.specs["a"]?.handler == "h")
    }
}
