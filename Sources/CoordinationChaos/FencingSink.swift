import CoordinationLocalServers
import Foundation
import Synchronization

/// The storage the chaos jobs write to: a line server on a loopback port that decides every
/// report with a ``FencingLedger`` and answers `ok` or `stale` (a job's command fails on `stale`).
///
/// One thread accepts; each connection is one short-lived thread (blocking reads with a timeout),
/// so a job stopped with SIGSTOP in the middle of a report holds only its own thread.
final class FencingSink: Sendable {
    let port: Int
    private let listener: Int32
    private let ledger = Mutex(FencingLedger())
    private let stopped = Atomic<Bool>(false)
    private let started: ContinuousClock.Instant

    /// Starts listening; `started` is the instant report times are measured from.
    init(started: ContinuousClock.Instant) throws {
        self.started = started
        (listener, port) = try LoopbackSocket.listen(backlog: 128)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Every decision so far, in arrival order.
    var writes: [SinkWrite] { ledger.withLock { $0.writes } }

    /// The runs begun and not ended at the sink, per job (or shard): the token and its worker.
    var openRuns: [ResourceID: SinkReport] { openBegins().mapValues(\.report) }

    /// The workers running a job whose id starts with `prefix`, begun at `at` or later (seconds
    /// since the run started) and not ended at the sink.
    func workersRunning(jobsPrefixed prefix: String, begunSince at: Double) -> Set<String> {
        Set(openBegins().values.filter { $0.at >= at && $0.resource.job.hasPrefix(prefix) }.map(\.report.worker))
    }

    /// The accepted `begin` of each run not ended at the sink, per job (or shard).
    private func openBegins() -> [ResourceID: SinkWrite] {
        ledger.withLock { ledger in
            var open: [ResourceID: SinkWrite] = [:]
            for write in ledger.writes where write.accepted {
                if write.report.kind == .begin {
                    open[write.resource] = write
                } else if open[write.resource]?.token == write.token {
                    open[write.resource] = nil
                }
            }
            return open
        }
    }

    /// `true` once a token newer than `token` wrote to `resource`: the run was taken over.
    func hasNewer(than token: Int64, on resource: ResourceID) -> Bool {
        ledger.withLock { ledger in ledger.writes.contains { $0.accepted && $0.resource == resource && $0.token > token } }
    }

    /// Decides one report now (each connection thread calls this).
    func decide(_ report: SinkReport) -> Bool {
        let at = (ContinuousClock.now - started) / .seconds(1)
        return ledger.withLock { $0.record(report, at: at) }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    private func acceptLoop() {
        defer { close(listener) }
        while !stopped.load(ordering: .relaxed) {
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 250) > 0 else { continue }
            guard let client = LoopbackSocket.accept(listener) else { continue }
            Thread.detachNewThread { [self] in serve(client) }
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var limit = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < 1024 {
            let count = recv(client, &byte, 1, 0)
            if count < 0 && errno == EINTR { continue }
            guard count == 1 else { return }
            if byte == UInt8(ascii: "\n") { break }
            line.append(byte)
        }
        let answer: String
        if let report = SinkReport(line: String(decoding: line, as: UTF8.self)) {
            answer = decide(report) ? "ok\n" : "stale\n"
        } else {
            answer = "bad\n"
        }
        _ = answer.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }
}
