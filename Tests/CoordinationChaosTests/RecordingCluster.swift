import Foundation
import Synchronization

@testable import CoordinationChaos

/// A cluster that only records what is done to it ("kill 1", "restart 1", "signal 2 STOP", …),
/// with a leader the test sets: what a fault aims at and in which order, without servers.
final class RecordingCluster: ChaosCluster {
    let backend = ChaosBackend.etcd
    let memberAddresses = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
    let serverLogs: [(name: String, path: String)] = []
    private let state: Mutex<(leader: Int?, calls: [String])>

    init(leader: Int?) {
        state = Mutex((leader: leader, calls: []))
    }

    var calls: [String] { state.withLock { $0.calls } }

    private func note(_ call: String) { state.withLock { $0.calls.append(call) } }

    func start() async throws {}
    func destroy() async {}
    func kill(_ member: Int) async { note("kill \(member)") }
    func terminate(_ member: Int) async { note("terminate \(member)") }
    func restart(_ member: Int) async throws { note("restart \(member)") }
    func signal(_ member: Int, _ signal: Int32) -> Bool {
        note("signal \(member) \(signal == SIGSTOP ? "STOP" : signal == SIGCONT ? "CONT" : String(signal))")
        return true
    }
    func waitUntilServing(within limit: Duration) async throws { note("wait until serving") }
    func leader() async -> Int? { state.withLock { $0.leader } }
    func storeURL(hosts: [String], namespace: String, ttl: Duration) -> String { "" }
    func compactNow() async throws -> Int64? {
        note("compact")
        return 42
    }
}
