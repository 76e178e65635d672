import Foundation

/// Servers (and chaos workers) that earlier runs started and never stopped (their owner crashed or
/// was killed): they hold the ports this run wants, and a client could talk to them instead of to
/// the server it just started.
public enum LeftoverServers {
    /// A text in the command lines of processes we start (their data folders, store URLs), and the
    /// program that owns them while it lives (matched against its executable's name).
    static let owners: [(marker: String, owner: String)] = [
        ("coord-zk-test-", ".xctest"),
        ("coordination-etcd-", ".xctest"),
        ("coord-chaos-", "coord-chaos"),
    ]

    /// Kills, once per process, every such process whose parent is not its owner any more (it was
    /// reparented when its owner died). Processes of an owner still running are left alone.
    public static func reapOnce() {
        _ = reaped
    }

    private static let reaped: Void = {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return }
        var killed: [Int32] = []
        defer { waitUntilGone(killed) }
        for entry in entries {
            guard let pid = Int32(entry), pid != getpid() else { continue }
            let arguments = ProcessTable.arguments(of: pid)
            let command = arguments.joined(separator: " ")
            guard let (marker, owner) = owners.first(where: { command.contains($0.marker) }) else { continue }
            // The owner itself (its own command line may mention the marker) is not a leftover.
            if Self.program(arguments).contains(owner) { continue }
            guard let parent = ProcessTable.parent(of: pid) else { continue }
            let parentArguments = ProcessTable.arguments(of: parent)
            // A child of a live owner, or of one of its processes (a worker's job), stays.
            if Self.program(parentArguments).contains(owner) || parentArguments.joined(separator: " ").contains(marker) { continue }
            kill(pid, SIGKILL)
            killed.append(pid)
        }
    }()

    /// Waits (up to 5 s) until the killed processes are gone or zombies, so their ports are free.
    private static func waitUntilGone(_ pids: [Int32]) {
        let deadline = Date(timeIntervalSinceNow: 5)
        while pids.contains(where: ProcessTable.isAlive), Date() < deadline { usleep(50_000) }
    }

    /// The name of the executable a command line runs (`coord-chaos`, `CoordinationPackageTests.xctest`).
    private static func program(_ arguments: [String]) -> String {
        arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? ""
    }
}
