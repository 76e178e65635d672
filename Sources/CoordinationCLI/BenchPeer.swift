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

    /// The one store scheme this peer speaks (etcd3gw has no TLS here, so not `etcds`).
    var scheme: String {
        switch self {
        case .kazoo: "zookeeper"
        case .etcd3gw: "etcd"
        }
    }

    func accepts(_ scheme: String) -> Bool { scheme == self.scheme }

    private var script: String {
        switch self {
        case .kazoo: BenchPeerScripts.kazoo
        case .etcd3gw: BenchPeerScripts.etcd3gw
        }
    }

    /// Starts the peer against the same server and namespace (`prefix` is the bench namespace's
    /// full path: ZooKeeper path or etcd key prefix), waits until it has connected and warmed up,
    /// runs `body` with a session that drives it, then lets it clean up and exit.
    func withSession<Value: Sendable>(
        hosts: [String], prefix: String, warmup: Int, _ body: (BenchPeerSession) async throws -> Value
    ) async throws -> Value {
        let arguments = ["-c", script, hosts.joined(separator: ","), prefix, "\(warmup)"]
        // A peer that dies between requests must fail the write with EPIPE, not kill coord
        // before it can clean up the bench namespace.
        signal(SIGPIPE, SIG_IGN)
        let outcome: ExecutionResult<Result<Value, any Error>, SequenceOutput, StringOutput<UTF8>>
        do {
            outcome = try await Subprocess.run(
                .name("python3"), arguments: Arguments(arguments), input: .inputWriter, output: .sequence,
                error: .string(limit: 1 << 20)
            ) { execution -> Result<Value, any Error> in
                let session = BenchPeerSession(
                    name: rawValue, writer: execution.standardInputWriter, lines: execution.standardOutput.strings())
                do {
                    try await session.waitUntilReady()
                    let value = try await body(session)
                    try await session.finish()
                    return .success(value)
                } catch {
                    return .failure(error)
                }
            }
        } catch let error as SubprocessError {
            throw BenchFailure("python3 could not run the \(rawValue) peer (\(error)); is python3 installed? (--peer none measures coord alone)")
        }
        let stderr = outcome.standardError.split(separator: "\n").last.map(String.init) ?? ""
        switch outcome.closureResult {
        case .success(let value) where outcome.terminationStatus.isSuccess:
            return value
        case .failure(let error) where !(error is BenchPeerSession.Ended):
            throw error  // coord's own side failed; the peer only saw its input end
        default:
            throw BenchFailure(
                "the \(rawValue) peer failed (\(outcome.terminationStatus)): \(stderr.isEmpty ? "no message (or it printed something that is not its reply)" : stderr)"
                    + (stderr.contains("No module named") || stderr.contains("ModuleNotFoundError")
                        ? "; install it with python3 -m pip install \(rawValue) (compose/native install does), or measure coord alone with --peer none"
                        : ""))
        }
    }
}

/// A running peer, driven one request line at a time (see ``BenchPeerScripts``). Its sequential
/// loops are a baseline that the bench interleaves with coord's, chunk by chunk.
actor BenchPeerSession: InterleavedBaseline {
    /// The peer closed its output, or answered what cannot be read: it failed (its stderr says why).
    struct Ended: Error {}

    let name: String
    private let writer: StandardInputWriter
    private var lines: SubprocessOutputSequence.StringSequence<UTF8>.AsyncIterator

    init(name: String, writer: StandardInputWriter, lines: SubprocessOutputSequence.StringSequence<UTF8>) {
        self.name = name
        self.writer = writer
        self.lines = lines.makeAsyncIterator()
    }

    func waitUntilReady() async throws {
        guard try await nextLine() == "ready" else { throw Ended() }
    }

    func timed(_ operation: String, indices: Range<Int>) async throws -> [Double] {
        let reply = try await request("\(operation) \(indices.lowerBound) \(indices.count)")
        guard let samples = reply as? [Any] else { throw Ended() }
        return samples.compactMap { ($0 as? NSNumber)?.doubleValue }
    }

    /// The peer's pipelined loop: operations per second, and which operation it pipelined.
    func pipelined(inFlight: Int, duration: Duration) async throws -> (throughput: Double, operation: String) {
        let reply = try await request("pipelined \(inFlight) \(duration.seconds)")
        guard let object = reply as? [String: Any], let rate = (object["pipelined"] as? NSNumber)?.doubleValue else {
            throw Ended()
        }
        return (rate, object["pipelinedOperation"] as? String ?? "?")
    }

    func finish() async throws {
        _ = try await writer.write("done\n")
        try await writer.finish()
    }

    private func request(_ line: String) async throws -> Any {
        _ = try await writer.write(line + "\n")
        guard let reply = try await nextLine(), let parsed = try? JSONSerialization.jsonObject(with: Data(reply.utf8)) else {
            throw Ended()
        }
        return parsed
    }

    private func nextLine() async throws -> String? {
        // Copied out and back: an actor's stored property cannot be passed inout across a suspension.
        var iterator = lines
        let line = try await iterator.next(isolation: self)
        lines = iterator
        return line?.trimmingCharacters(in: .newlines)
    }
}
