import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// Where jobs live: 64 buckets per folder, the same in every process and version.
@Suite(.serverLoadLimit) struct SchedulerLayoutTests {
    /// The bucket is part of every key a job has: if it moved, existing jobs would be lost.
    @Test func aJobsBucketNeverChanges() throws {
        #expect(SchedulerLayout.bucket(of: "job") == "3e")
        #expect(SchedulerLayout.bucket(of: "nightly") == "2f")
        #expect(SchedulerLayout.bucket(of: "é") == "1e")
        let layout = SchedulerLayout()
        #expect(try layout.job("nightly").path == "/scheduler/jobs/2f/nightly")
        #expect(try layout.runs(of: "nightly") == (try layout.job("nightly")))
        #expect(try layout.run("nightly", "r-1").path == "/scheduler/jobs/2f/nightly/r-1")
        #expect(try layout.claim("nightly", "r-1").path == "/scheduler/jobs/2f/nightly/r-1/claim")
        #expect(try layout.history(of: "nightly").path == "/scheduler/history/2f/nightly")
    }

    @Test func jobsSpreadOverEveryBucket() {
        var counts: [String: Int] = [:]
        for index in 0..<10_000 { counts[SchedulerLayout.bucket(of: "j\(index)"), default: 0] += 1 }
        #expect(Set(counts.keys) == Set(SchedulerLayout.bucketNames))
        // 156 on average: no bucket near twice that, or the largest folder would stay large.
        #expect(counts.values.max()! < 200, "\(counts)")
    }

    @Test func keysAreRecognisedByTheirPlaceInTheLayout() throws {
        let layout = SchedulerLayout()
        let run = try layout.run("nightly", "r-1")
        #expect(layout.jobID(of: run, in: layout.jobs) == "nightly")
        #expect(layout.jobID(of: try layout.claim("nightly", "r-1"), in: layout.jobs) == "nightly")
        #expect(layout.jobID(of: try layout.job("nightly"), in: layout.jobs) == "nightly")
        #expect(layout.jobID(of: try layout.jobs.child("2f"), in: layout.jobs) == nil, "a bucket")
        #expect(layout.jobID(of: try layout.history(of: "nightly"), in: layout.jobs) == nil, "another folder")
        #expect(layout.isRun(run))
        #expect(!layout.isRun(try layout.runs(of: "nightly")))
        #expect(!layout.isRun(try layout.claim("nightly", "r-1")))
        #expect(layout.isRunOrClaim(run))
        #expect(layout.isRunOrClaim(try layout.claim("nightly", "r-1")))
        #expect(!layout.isRunOrClaim(try layout.job("nightly")), "the job's own key")
        #expect(!layout.isRunOrClaim(try layout.history(of: "nightly").child("h-0000000001")), "another folder")
        #expect(layout.run(ofClaim: try layout.claim("nightly", "r-1")) == run)
        #expect(layout.isJobKey(try layout.job("nightly"), in: layout.jobs))
        #expect(layout.isJobKey(try layout.history(of: "nightly"), in: layout.history))
        #expect(!layout.isJobKey(try layout.jobs.child("2f"), in: layout.jobs))
        #expect(layout.isHistoryEntry(try layout.history(of: "nightly").child("h-0000000001")))
        #expect(!layout.isHistoryEntry(try layout.history(of: "nightly")))
    }

    /// Several processes starting at once all end with every bucket of every folder in place.
    @Test(arguments: TestBackend.all)
    func foldersAndBucketsAreCreatedOnceHoweverManyStartTogether(backend: TestBackend) async throws {
        try backend.require()
        let namespace = try Key("/layout-\(UInt32.random(in: 0...UInt32.max))")
        let store = try await backend.open(namespace, .seconds(10))
        defer { Task { await backend.discard(store) } }
        let layout = SchedulerLayout()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                let handle = try await backend.open(namespace, .seconds(10))
                group.addTask {
                    try await layout.ensureFolders(in: handle)
                    await handle.close()
                }
            }
            try await group.waitForAll()
        }
        for folder in layout.bucketedFolders {
            #expect(try await store.children(of: folder) == SchedulerLayout.bucketNames, "\(folder)")
        }
        #expect(try await store.children(of: layout.root) == ["history", "incarnations", "jobs", "leader", "workers"])
        try await layout.ensureFolders(in: store)  // again: nothing to do, nothing refused
        // A bucket deleted by hand comes back, so that its jobs can be submitted again.
        try await store.delete(try layout.jobs.child("2f"), ifVersion: nil, recursive: true)
        try await Scheduler(store: store).submit([JobSpec(id: "nightly", handler: "noop")])
        #expect(try await store.children(of: try layout.jobs.child("2f")) == ["nightly"])
    }

    /// A root written by an earlier coord (jobs before the buckets, runs in their own folder
    /// before they moved beneath their jobs, job states in their own folder before they moved
    /// into the jobs' records) is refused with what to do, not read as if it were empty.
    @Test(arguments: TestBackend.all)
    func aRootInAnEarlierLayoutIsRefused(backend: TestBackend) async throws {
        try backend.require()
        let layout = SchedulerLayout()
        let earlierLayouts: [(name: String, keys: [String])] = [
            ("unbucketed", ["/scheduler/jobs/nightly"]),
            ("runs folder", ["/scheduler/runs", "/scheduler/runs/2f", "/scheduler/runs/2f/nightly", "/scheduler/runs/2f/nightly/r-1"]),
            (
                "state folder",
                [
                    "/scheduler/jobs", "/scheduler/jobs/2f", "/scheduler/jobs/2f/nightly", "/scheduler/state", "/scheduler/state/2f",
                    "/scheduler/state/2f/nightly",
                ]
            ),
        ]
        for earlier in earlierLayouts {
            let store = try await backend.open(try Key("/layout-\(UInt32.random(in: 0...UInt32.max))"), .seconds(10))
            defer { Task { await backend.discard(store) } }
            for path in earlier.keys { _ = try await store.create(try Key(path), value: [], mode: .persistent) }
            let refused = SchedulerError.earlierLayout(root: layout.root)
            await #expect(throws: refused, "\(earlier.name)") { try await layout.ensureFolders(in: store) }
            // Listing (`coord jobs`) too, rather than showing none.
            await #expect(throws: refused, "\(earlier.name)") { try await Scheduler(store: store).jobs() }
            // And one job (`coord job show`, `coord runs`, pause, cancel, rm), rather than "no job".
            let client = Scheduler(store: store)
            await #expect(throws: refused, "\(earlier.name)") { try await client.job("nightly") }
            await #expect(throws: refused, "\(earlier.name)") { try await client.job("other") }
            await #expect(throws: refused, "\(earlier.name)") { try await client.pause("nightly") }
            await #expect(throws: refused, "\(earlier.name)") { try await client.cancel("nightly") }
            await #expect(throws: refused, "\(earlier.name)") { try await client.remove("nightly") }
            // Even with the buckets made by hand beside the old keys.
            for name in SchedulerLayout.bucketNames {
                let bucket = try layout.jobs.child(name)
                if try await !store.exists(bucket) { _ = try await store.create(bucket, value: [], mode: .persistent) }
            }
            await #expect(throws: refused, "\(earlier.name)") { try await layout.ensureFolders(in: store) }
        }
        #expect(SchedulerError.earlierLayout(root: layout.root).description.contains("coord kv rm /scheduler --recursive"))
    }
}
