import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

/// `coord kv watch` and `coord members --watch` end with status 0 on SIGTERM, also when the
/// SIGTERM comes again while coord closes its store (a supervisor that insists, or `timeout`,
/// which signals coord and then its group): the repeat found the signal's default action
/// restored and killed coord (143 in a shell) in the few milliseconds a real server's close takes.
@Suite("coord kv watch and members --watch on a repeated SIGTERM", .serverLoadLimit)
struct WatchRepeatedStopSignalTests {
    @Test("a SIGTERM sent again while the watch stops still ends it with status 0", arguments: SchedulerProcessTests.servers)
    func repeatedTermination(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            let url = try #require(backend.url(handles.namespace))
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            for watch in [["kv", "watch", "/config", "--subtree"], ["members", "web", "--watch", "--json"]] {
                let result = try await coord.run(
                    ["--store", url] + watch, signalAfterFirstLine: SIGTERM, repeatingSignal: true, timeout: .seconds(30))
                #expect(result.status == 0, "\(watch.joined(separator: " ")): \(result.stderr)")
                #expect(!result.stdoutText.isEmpty, "\(watch.joined(separator: " ")): the first state was printed")
            }
        }
    }
}
