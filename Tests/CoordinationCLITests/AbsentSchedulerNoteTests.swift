import Coordination
import CoordinationTestSupport
import Foundation
import Testing
@testable import CoordinationCLI

/// `coord jobs` and `coord workers` on a namespace with no scheduler data printed only their
/// header: a mistyped namespace (`etcd://h/myap`) looked like one with no jobs yet. They now say
/// so on stderr, and leave stdout, `--json` and the exit status as they were.
@Suite("coord jobs and workers say when the namespace has no scheduler data", .serverLoadLimit)
struct AbsentSchedulerNoteTests {
    static let jobsHeader = "ID  SCHEDULE  STRATEGY  STATE  NEXT FIRE  ACTIVE  LAST\n"
    static let workersHeader = "ID  STATE  CAPACITY  LOAD  WEIGHT  LABELS  HANDLERS\n"

    @Test(
        "an empty namespace gets a note naming it and the scheduler root, written nowhere; one whose jobs are all gone gets none",
        arguments: SchedulerProcessTests.servers)
    func emptyNamespace(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let url = try #require(backend.url(handles.namespace))
            let note = CommandContext.absentSchedulerRootNote(root: .schedulerRoot, in: try StoreURL(url))
            #expect(note.contains(handles.namespace.path) && note.contains(" /scheduler") && note.contains("spelling of the store URL"))
            let listings: [([String], String)] = [
                (["jobs"], Self.jobsHeader), (["jobs", "--json"], ""), (["workers"], Self.workersHeader), (["workers", "--json"], ""),
            ]
            for (arguments, stdout) in listings {
                let result = try await coord.run(["--store", url] + arguments)
                #expect(result.status == 0 && result.stdoutText == stdout, "\(arguments): \(result.stdoutText)")
                #expect(result.stderrLines == [note], "\(arguments): \(result.stderr)")
            }
            // Looking wrote nothing: the namespace still has no scheduler root.
            let store = try await handles.open()
            #expect(try await !store.exists(.schedulerRoot))

            // A job added and removed leaves the root: "no jobs yet" (or no more), with no note.
            let added = try await coord.run(["--store", url, "job", "add", "gone", "--command", "true", "--every", "1h"])
            #expect(added.status == 0, "\(added.stderr)")
            let removed = try await coord.run(["--store", url, "job", "rm", "gone"])
            #expect(removed.status == 0, "\(removed.stderr)")
            for (arguments, stdout) in listings {
                let result = try await coord.run(["--store", url] + arguments)
                #expect(result.status == 0 && result.stdoutText == stdout, "\(arguments): \(result.stdoutText)")
                #expect(result.stderr == "", "\(arguments): \(result.stderr)")
            }
        }
    }

    /// memory:// always starts empty and has its own note: one note, not two.
    @Test("on memory:// an empty listing carries only the memory:// note")
    func memoryStoreHasItsOwnNote() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        for arguments in [["jobs"], ["workers"]] {
            let result = try await coord.run(["--store", "memory:///app"] + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderrLines == ["coord: note: " + CommandContext.memoryNote], "\(arguments): \(result.stderr)")
        }
    }
}
