@testable import CoordinationChaos
import CoordinationLocalServers
import Foundation
import Logging
import Testing

/// A run that fails before its report (a member that cannot bind its port, as when two chaos
/// runs share a machine) printed "see its log under /tmp/coord-chaos-etcd-…": the cluster's own
/// folder, which the teardown removes. Its logs were copied to the run's folder, named only on
/// stderr; the failure the report prints must name that folder.
@Suite("A failed chaos run names where its logs were kept")
struct FailedRunLogFolderTests {
    @Test func aMemberThatCannotBindNamesTheKeptFolder() async throws {
        // Held for the test: etcd's member m0 takes basePort+30 for clients and +31 for peers.
        let (held, port) = try LoopbackSocket.listen()
        defer { close(held) }
        var configuration = ChaosConfiguration.quick(
            backends: [.etcd], seed: 1, coordBinary: URL(fileURLWithPath: "/nonexistent/coord"))
        configuration.basePort = port - 31
        var logger = Logger(label: "chaos-failed-run-test")
        logger.logLevel = .critical
        let outcomes = try await ChaosHarness.run(configuration, logger: logger)
        guard case .failed(.etcd, let reason) = try #require(outcomes.first) else {
            Issue.record("the run did not fail: \(outcomes)")
            return
        }
        #expect(reason.contains("exited before serving"), "\(reason)")
        let marker = "kept in "
        let range = try #require(reason.range(of: marker, options: .backwards), "\(reason)")
        let folder = String(reason[range.upperBound...])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let log = try String(contentsOfFile: folder + "/server-m0.log", encoding: .utf8)
        #expect(log.contains("address already in use"), "\(log)")
    }
}
