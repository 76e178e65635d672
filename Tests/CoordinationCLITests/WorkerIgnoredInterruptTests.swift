import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// A worker started as a script's background job inherits SIGINT ignored, and keeps it so (see
/// `InheritedSignals`). Its stop note still offered "SIGINT or Ctrl-C now exits at once", which
/// then did nothing: it now names SIGKILL.
@Suite("a worker started with SIGINT ignored does not offer SIGINT to cut its stop short", .serverLoadLimit)
struct WorkerIgnoredInterruptTests {
    /// On the servers only: the test waits for the worker's member key, which another process
    /// sees only on a shared store (the notes are the same on memory://).
    @Test("the stop notes name SIGKILL, not the SIGINT that was ignored", arguments: SchedulerProcessTests.servers)
    func stopNotesNameSIGKILL(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            let url = try #require(backend.url(handles.namespace, ttl: handles.ttl))
            let worker = try await LineProcess(
                "/bin/sh",
                [
                    "-c", "trap '' INT; exec \"$0\" \"$@\" 2>&1", CoordProcess.binary.path,
                    "--store", url, "worker", "--id", "scripted", "--log-level", "error",
                ])
            defer { worker.stop() }
            let store = try await handles.open()
            // Joined, it has its signal handlers (installed before it runs).
            #expect(try await WorkerWaitsForStoreTests.joined("scripted", in: store, limit: .seconds(30)))
            worker.kill(SIGTERM)
            let stopping = try await worker.nextLine(within: .seconds(20))
            #expect(stopping.hasPrefix("coord: SIGTERM: stopping;"), "\(stopping)")
            #expect(stopping.hasSuffix("(SIGINT was ignored when coord started, so only SIGKILL exits at once)"), "\(stopping)")
            #expect(try await worker.exitStatus(within: .seconds(20)) == 0)
        }
    }
}
