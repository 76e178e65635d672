import Foundation
import CoordinationTestSupport
import Testing

/// `coord lock`, `coord elect` and `coord members` on the embedded store (one process); the
/// cross-process acceptance runs against real servers in the backend-specific suites.
@Suite(.serverLoadLimit) struct HeldCommandTests {
    @Test("coord lock runs the command with a fencing token and passes its status through")
    func lockPassesStatusThrough() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["lock", "deploy", "--", "sh", "-c", "echo token=$COORD_FENCING_TOKEN; exit 3"])
        #expect(result.status == 3)
        #expect(result.stdoutText.hasPrefix("token="))
        #expect(Int(result.stdoutText.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines)) != nil)
        #expect(result.stderr.isEmpty)
    }

    @Test("coord elect runs the command once elected, with a leader token")
    func electRunsTheCommand() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["elect", "/apps/primary", "--identity", "me", "--", "sh", "-c", "echo $COORD_LEADER_TOKEN"])
        #expect(result.status == 0)
        #expect(Int(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) != nil)
    }

    @Test("coord members of an empty group prints nothing")
    func emptyGroup() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["members", "workers", "--json"])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
    }

    @Test("mistakes are one line naming the problem", arguments: [
        (["lock", "x"], Int32(64), "give the command to run after --"),
        (["elect", "x"], 64, "give the command to run after --"),
        // Found on the command line, before any store is opened: a store out of reach does not matter.
        (["--store", "etcd://127.0.0.1:1", "lock", "x"], 64, "give the command to run after --"),
        (["--store", "etcd://127.0.0.1:1", "elect", "x"], 64, "give the command to run after --"),
        (["lock", "x", "--timeout", "soon", "--", "true"], 64, "--timeout soon is not a positive duration"),
        (["lock", "../x", "--", "true"], 6, "invalid key"),
        (["elect", "", "--", "true"], 6, "invalid key"),
        // A command that never starts gets a shell's status: 127 not found, 126 not runnable.
        (["lock", "x", "--", "/nonexistent/cmd"], 127, "coord: cannot run /nonexistent/cmd: no such file"),
        (["lock", "x", "--", "no-such-command-anywhere"], 127, "no-such-command-anywhere: no such command on PATH"),
        (["elect", "/e", "--", "/"], 126, "cannot run /: it is a directory"),
    ])
    func mistakes(arguments: [String], status: Int32, message: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(arguments)
        #expect(result.status == status)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }
}
