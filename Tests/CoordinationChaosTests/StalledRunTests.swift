import CoordinationChaos
import Foundation
import Testing

/// A stalled worker's processes are told apart by run from the variables the shell handler
/// gives every process of a run; real processes, read back through /proc.
@Suite("A stalled worker's runs")
struct StalledRunTests {
    @Test("processes are grouped by the job, shard and token in their environment; others are no run's")
    func runsFromEnvironment() throws {
        let shard = try Self.sleeper(["COORD_JOB_ID": "shard-001", "COORD_SHARD": "2", "COORD_FENCING_TOKEN": "77"])
        let sameRun = try Self.sleeper(["COORD_JOB_ID": "shard-001", "COORD_SHARD": "2", "COORD_FENCING_TOKEN": "77"])
        let oneShot = try Self.sleeper(["COORD_JOB_ID": "once-0001", "COORD_FENCING_TOKEN": "12"])
        let stranger = try Self.sleeper([:])
        defer { for process in [shard, sameRun, oneShot, stranger] { process.terminate() } }

        let runs = StalledRun.runs(of: [shard, sameRun, oneShot, stranger].map(\.processIdentifier))
        try #require(runs.map(\.resource) == [ResourceID(job: "once-0001", item: 0), ResourceID(job: "shard-001", item: 2)])
        #expect(runs.map(\.token) == [12, 77])
        #expect(runs[0].processes == [oneShot.processIdentifier])
        #expect(Set(runs[1].processes) == [shard.processIdentifier, sameRun.processIdentifier])
        #expect(runs.allSatisfy { $0.goneAt == nil })
    }

    /// A `sleep` with exactly `variables` as its environment, returned once it runs `sleep`.
    static func sleeper(_ variables: [String: String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["30"]
        process.environment = variables
        try process.run()
        try waitForExec(of: process)
        return process
    }

    /// `run()` may return before the child has exec'd: until then /proc shows the test's own
    /// environment, and a loaded machine once read that (no run's) for one of the sleepers. Its
    /// command line changes with the exec, which /proc tells; there is no event to wait on.
    static func waitForExec(of process: Process) throws {
        let path = "/proc/\(process.processIdentifier)/cmdline"
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let line = try? Data(contentsOf: URL(fileURLWithPath: path)), line.starts(with: Array("/bin/sleep\u{0}".utf8)) { return }
            Thread.sleep(forTimeInterval: 0.005)
        }
        Issue.record("sleep \(process.processIdentifier) did not exec within 10 s")
    }
}
