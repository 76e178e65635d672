import Foundation

/// The benchmark's table: one row per measure, coord's figure, the peer's, and the ratio
/// (peer / coord for latency, coord / peer for throughput: above 1 means coord is faster).
struct BenchReport {
    var store: String
    var cores: Int
    var load: String
    var settings: String
    var peerName: String?
    var rows: [(measure: String, coord: String, peer: String, ratio: String)] = []

    init(store: String, settings: String, peerName: String?) {
        self.store = store
        self.settings = settings
        self.peerName = peerName
        cores = ProcessInfo.processInfo.activeProcessorCount
        var averages = [Double](repeating: 0, count: 3)
        let found = getloadavg(&averages, 3)
        load = found == 3 ? averages.map { String(format: "%.2f", $0) }.joined(separator: " ") : "unknown"
    }

    mutating func addLatencies(_ ours: BenchFigures, _ peer: BenchFigures?) {
        for operation in BenchRunner.operations {
            guard let samples = ours.latencies[operation] else { continue }
            let theirs = peer?.latencies[operation]
            for (label, ourValue, peerValue) in [
                ("p50", samples.p50, theirs?.p50), ("p99", samples.p99, theirs?.p99),
            ] {
                rows.append((
                    "\(operation) \(label)", Self.milliseconds(ourValue), peerValue.map(Self.milliseconds) ?? "-",
                    peerValue.map { Self.ratio($0, ourValue) } ?? "-"
                ))
            }
        }
    }

    /// Rows comparing coord's sequential latencies with a baseline's (ratio = baseline / coord:
    /// 0.87 or more means coord is within 15% of it).
    mutating func addBaseline(_ name: String, _ ours: BenchFigures, _ baseline: [String: LatencySamples]) {
        for operation in BenchRunner.operations {
            guard let samples = ours.latencies[operation], let theirs = baseline[operation] else { continue }
            for (label, ourValue, baseValue) in [("p50", samples.p50, theirs.p50), ("p99", samples.p99, theirs.p99)] {
                rows.append((
                    "\(operation) \(label) vs \(name)", Self.milliseconds(ourValue), Self.milliseconds(baseValue),
                    Self.ratio(baseValue, ourValue)
                ))
            }
        }
    }

    mutating func addThroughput(_ ours: BenchFigures, _ peer: BenchFigures?, inFlight: Int) {
        rows.append((
            "pipelined \(ours.throughputOperation) (\(inFlight) in flight)", Self.perSecond(ours.throughput),
            peer.map { Self.perSecond($0.throughput) } ?? "-", peer.map { Self.ratio(ours.throughput, $0.throughput) } ?? "-"
        ))
    }

    mutating func addClaims(jobs: Int, workers: Int, capacity: Int, warmUp: Int, _ result: BenchClaims.Result) {
        let times = String(format: "%.1f s, submitting %.1f s", result.elapsed.seconds, result.submitting.seconds)
        let who = "\(workers) worker\(workers == 1 ? "" : "s") x \(capacity) slots"
        let after = warmUp > 0 ? " after \(warmUp) warm-up" : ""
        rows.append((
            "claims (\(jobs) no-op jobs\(after), \(who); \(times); \(result.claimsLost) lost)", Self.perSecond(result.claimsPerSecond), "-", "-"
        ))
    }

    mutating func addWatchDelivery(watchers: Int, writes: Int, _ result: BenchWatchers.Result) {
        let missing = result.missing == 0 ? "" : String(format: ", %d not delivered within 10 s", result.missing)
        for (label, value) in [("p50", result.latencies.p50), ("p99", result.latencies.p99)] {
            rows.append(("watch delivery \(label) (\(watchers) watchers, \(writes) writes\(missing))", Self.milliseconds(value), "-", "-"))
        }
    }

    static func milliseconds(_ seconds: Double) -> String { String(format: "%.3f ms", seconds * 1000) }
    static func perSecond(_ value: Double) -> String { "\(Int(value.rounded()))/s" }
    static func ratio(_ numerator: Double, _ denominator: Double) -> String {
        denominator > 0 ? String(format: "%.2fx", numerator / denominator) : "-"
    }

    private var header: [String] { ["measure", "coord", peerName ?? "peer", "ratio"] }
    private var lines: [String] {
        var lines = ["store \(store)   cores \(cores)   load average \(load)", settings]
        if let peerName {
            lines.append("ratio = \(peerName) / coord for latency, coord / \(peerName) for throughput (above 1: coord is faster)")
        }
        return lines
    }

    /// Aligned columns: text left, figures right.
    var plain: String {
        let table = [header] + rows.map { [$0.measure, $0.coord, $0.peer, $0.ratio] }
        let widths = (0..<4).map { column in table.map { $0[column].count }.max() ?? 0 }
        let body = table.map { row in
            row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + padding : padding + cell
            }.joined(separator: "   ")
        }
        return (lines + [""] + body).joined(separator: "\n")
    }

    var markdown: String {
        let table = ["| " + header.joined(separator: " | ") + " |", "|---|---:|---:|---:|"]
            + rows.map { "| \($0.measure) | \($0.coord) | \($0.peer) | \($0.ratio) |" }
        return (lines.map { $0 + "  " } + [""] + table).joined(separator: "\n")
    }
}
