import Foundation

/// Servers that earlier test runs started and never stopped (their test process crashed or was
/// killed): they hold the ports this run wants, and a test could talk to them instead of to the
/// server it just started.
public enum LeftoverServers {
    /// The folders test servers keep their data in (`TestServer`, `EtcdCluster`): their command
    /// lines carry them.
    static let markers = ["coord-zk-test-", "coordination-etcd-"]

    /// Kills, once per test process, every test server whose parent is no longer a test process
    /// (it was reparented when its test run died). Servers of a run still going are left alone.
    public static func reapOnce() {
        _ = reaped
    }

    private static let reaped: Void = {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return }
        for entry in entries {
            guard let pid = Int32(entry), pid != getpid() else { continue }
            let command = commandLine(of: pid)
            guard markers.contains(where: command.contains) else { continue }
            guard let parent = parentID(of: pid), !commandLine(of: parent).contains(".xctest") else { continue }
            kill(pid, SIGKILL)
        }
    }()

    private static func commandLine(of pid: Int32) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
        return String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }

    private static func parentID(of pid: Int32) -> Int32? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        // "pid (name) state ppid ...": the name may hold spaces, so read after its closing paren.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }
}
