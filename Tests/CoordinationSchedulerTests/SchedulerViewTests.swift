import Coordination
import Foundation
import Testing

@testable import CoordinationScheduler

/// The view reads run and state records only when asked, and counts each worker's load by the
/// claims it holds.
struct SchedulerViewTests {
    let layout = SchedulerLayout()
    let start = Date(timeIntervalSince1970: 1_000_000)

    func record(_ key: Key, _ bytes: [UInt8], version: Int64 = 0, revision: Int64 = 1) -> Record {
        Record(key: key, value: bytes, version: version, createRevision: revision, modRevision: revision, isEphemeral: false)
    }

    func run(_ job: String) -> RunRecord {
        RunRecord(job: job, run: "r", item: 0, itemCount: 1, itemParameter: nil, scheduledAt: start, notBefore: start)
    }

    /// One watch of `R/jobs` feeds two parts of the view: definitions, and runs with their claims.
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

    @Test func loadIsCountedByClaimsAndFollowsThem() throws {
        var view = SchedulerView(layout: layout)
        view.apply(.snapshot([]), to: .runs)
        let runA = try layout.run("a", "r")
        let runB = try layout.run("b", "r")
        view.apply(.put(record(runA, try SchedulerJSON.encode(run("a")))), to: .runs)
        view.apply(.put(record(runB, try SchedulerJSON.encode(run("b")))), to: .runs)
        #expect(view.runningByWorker.isEmpty)
        #expect(!view.allRunsClaimed(ofJob: "a"))

        view.apply(.put(record(try layout.claim("a", "r"), Array("w1".utf8))), to: .runs)
        view.apply(.put(record(try layout.claim("b", "r"), Array("w1".utf8))), to: .runs)
        #expect(view.runningByWorker == ["w1": 2])
        #expect(view.allRunsClaimed(ofJob: "a") && view.allRunsClaimed(ofJob: "b"))

        // A claim taken over by another worker moves the load; one deleted with its run removes it.
        view.apply(.put(record(try layout.claim("a", "r"), Array("w2".utf8), revision: 2)), to: .runs)
        #expect(view.runningByWorker == ["w1": 1, "w2": 1])
        view.apply(.delete(try layout.claim("b", "r")), to: .runs)
        view.apply(.delete(runB), to: .runs)
        #expect(view.runningByWorker == ["w2": 1])
        #expect(view.runs(ofJob: "b").isEmpty)

        view.apply(.snapshot([]), to: .runs)
        #expect(view.runningByWorker.isEmpty, "a snapshot replaces the claims too")
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
