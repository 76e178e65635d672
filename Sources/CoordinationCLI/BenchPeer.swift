import Coordination
import Foundation
import Subprocess

/// A third-party client run as a child process against the same server and namespace.
enum BenchPeer: String, Sendable, CaseIterable {
    case kazoo, etcd3gw

    /// The peer for a store scheme (`--peer auto`): none for the embedded store.
    static func automatic(for scheme: String) -> BenchPeer? {
        switch scheme {
        case "zookeeper": .kazoo
        case "etcd": .etcd3gw
        default: nil
        }
    }

    func accepts(_ scheme: String) -> Bool {
        switch self {
        case .kazoo: scheme == "zookeeper"
        case .etcd3gw: scheme == "etcd"
        }
    }

    private var script: String {
        switch self {
        case .kazoo: BenchPeerScripts.kazoo
        case .etcd3gw: BenchPeerScripts.etcd3gw
        }
    }

    /// Runs the peer's loops and reads its figures from the JSON it prints. `prefix` is the
    /// bench namespace's full path on the server (ZooKeeper path or etcd key prefix).
    func run(
        hosts: [String], prefix: String, operations: Int, warmup: Int, inFlight: Int, duration: Duration
    ) async throws -> BenchFigures {
        let arguments = [
            "-c", script, hosts.joined(separator: ","), prefix, "\(operations)", "\(warmup)", "\(inFlight)",
            "\(duration.seconds)",
        ]
        let result = try await Subprocess.run(
            .name("python3"), arguments: Arguments(arguments),
            output: .string(limit: 64 << 20), error: .string(limit: 1 << 20))
        let stderr = result.standardError.split(separator: "\n").last.map(String.init) ?? ""
        guard case .exited(0) = result.terminationStatus else {
            throw CoordinationError(
                .unavailable, "the \(rawValue) peer failed (\(result.terminationStatus)): \(stderr.isEmpty ? "no message" : stderr)")
        }
        guard let data = result.standardOutput.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw CoordinationError(.unavailable, "the \(rawValue) peer printed no JSON figures")
        }
        var figures = BenchFigures()
        for operation in BenchRunner.operations {
            let samples = (object[operation] as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } ?? []
            figures.latencies[operation] = LatencySamples(seconds: samples)
        }
        figures.throughput = (object["pipelined"] as? NSNumber)?.doubleValue ?? 0
        figures.throughputOperation = object["pipelinedOperation"] as? String ?? "?"
        return figures
    }
}
