import Foundation

/// A 3-member cluster of one store on loopback that a chaos run owns: started, faulted, stopped.
/// Member indexes are 0, 1, 2.
protocol ChaosCluster: Sendable {
    var backend: ChaosBackend { get }
    /// `127.0.0.1:PORT` of each member's client port.
    var memberAddresses: [String] { get }

    /// Starts every member and waits until all serve.
    func start() async throws
    /// Kills every member and removes its data (also after a failure; never throws).
    func destroy() async
    /// Each member's server log, by the name to keep it under: copied beside the workers' logs
    /// when a run fails, before ``destroy()`` removes them with the data.
    var serverLogs: [(name: String, path: String)] { get }
    /// SIGKILLs a member and waits until its process is gone.
    func kill(_ member: Int) async
    /// SIGTERMs a member (SIGKILL if it has not exited after a few seconds) and waits until its
    /// process is gone.
    func terminate(_ member: Int) async
    /// Starts a killed member again (same data) and waits until it serves.
    func restart(_ member: Int) async throws
    /// Sends SIGSTOP or SIGCONT to a member's process.
    func signal(_ member: Int, _ signal: Int32) -> Bool
    /// Waits until every member serves.
    func waitUntilServing(within limit: Duration) async throws
    /// The member that leads now, if one answers.
    func leader() async -> Int?
    /// A store URL reaching `hosts` under `namespace` with sessions of `ttl`.
    func storeURL(hosts: [String], namespace: String, ttl: Duration) -> String
    /// Compacts the store's history at its current revision and returns that revision; `nil`
    /// when the store has no such thing (ZooKeeper).
    func compactNow() async throws -> Int64?
}

extension ChaosCluster {
    /// Copies the members' server logs into `folder` (as `server-<name>.log`); a log missing is skipped.
    func keepServerLogs(in folder: URL) {
        for (name, path) in serverLogs {
            try? FileManager.default.copyItem(atPath: path, toPath: folder.appendingPathComponent("server-\(name).log").path)
        }
    }
}

extension Duration {
    /// `1500ms`, the way store URLs and `coord` options read durations.
    var urlText: String { "\(Int64(self / .milliseconds(1)))ms" }
}
