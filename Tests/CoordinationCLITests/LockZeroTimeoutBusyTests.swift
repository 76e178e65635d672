import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// "`--timeout 0` takes the lock if it is free and otherwise exits 12 at once" (README). Only
/// the free half was tried from the shell: a zero read as "no limit", as many tools read it,
/// would have had `coord lock --timeout 0` wait for the holder, and no test noticed.
@Suite("coord lock --timeout 0 on a busy lock", .serverLoadLimit)
struct LockZeroTimeoutBusyTests {
    @Test("coord lock --timeout 0 on a held lock exits 12 at once, the command not run, no entry left", arguments: SchedulerProcessTests.servers)
    func busyLockIsNotWaitedFor(backend: TestBackend) async throws {
        try await CoordProcess.onFreshNamespace(of: backend) { store, url, coord in
            let holder = try await LineProcess(
                CoordProcess.binary.path, ["--store", url, "lock", "busy", "--", "sh", "-c", "echo holding; exec sleep 600"])
            defer { holder.stop() }
            #expect(try await holder.nextLine(within: .seconds(20)) == "holding")
            // A wait for the holder would last until the run's own bound, which kills coord (status 9).
            let tried = try await coord.run(["--store", url, "lock", "busy", "--timeout", "0", "--", "echo", "ran"], timeout: .seconds(20))
            #expect(tried.status == 12, "\(tried.stderr)")
            #expect(tried.stdout.isEmpty, "the command ran")
            #expect(tried.stderrLines == ["coord: lock /locks/busy was not acquired within 0s; the command did not run"])
            #expect(try await store.children(of: try Key("/locks/busy")).count == 1, "only the holder's entry")
            holder.kill(SIGTERM)
            #expect(try await holder.exitStatus(within: .seconds(20)) == 143)
        }
    }
}
