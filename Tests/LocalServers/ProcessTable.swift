import Coordination
import Foundation

/// What Linux's /proc says about other processes: command lines, parents, children, listening
/// ports, whether they are stopped.
public enum ProcessTable {
    /// The process's arguments (`argv`), empty when it is gone.
    public static func arguments(of pid: Int32) -> [String] {
        guard let data = wholeFile("/proc/\(pid)/cmdline") else { return [] }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The process's environment as it was started, empty when it is gone (or not ours to read).
    public static func environment(of pid: Int32) -> [String: String] {
        guard let data = wholeFile("/proc/\(pid)/environ") else { return [:] }
        var variables: [String: String] = [:]
        for entry in data.split(separator: 0) {
            let text = String(decoding: entry, as: UTF8.self)
            guard let equals = text.firstIndex(of: "=") else { continue }
            variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        return variables
    }

    /// `true` while the process runs (a zombie has exited: it holds no ports or files).
    public static func isAlive(_ pid: Int32) -> Bool {
        guard let fields = statFields(of: pid), let state = fields.first else { return false }
        return state != "Z"
    }

    /// The parent's process id, `nil` when the process is gone.
    public static func parent(of pid: Int32) -> Int32? {
        statFields(of: pid).flatMap { $0.count > 1 ? Int32($0[1]) : nil }
    }

    /// The process group's id, `nil` when the process is gone.
    public static func processGroup(of pid: Int32) -> Int32? {
        statFields(of: pid).flatMap { $0.count > 2 ? Int32($0[2]) : nil }
    }

    /// Every process below `pid` (children, their children…), read from one pass over /proc.
    public static func descendants(of pid: Int32) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var children: [Int32: [Int32]] = [:]
        for entry in entries {
            guard let child = Int32(entry), let parent = parent(of: child) else { continue }
            children[parent, default: []].append(child)
        }
        var found: [Int32] = []
        var queue = children[pid] ?? []
        while let next = queue.popLast() {
            found.append(next)
            queue += children[next] ?? []
        }
        return found
    }

    /// Whether every thread of the process is stopped (state `T`, or `t` when traced).
    public static func isStopped(_ pid: Int32) -> Bool {
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task"), !threads.isEmpty else { return false }
        return threads.allSatisfy { thread in
            guard let data = wholeFile("/proc/\(pid)/task/\(thread)/stat"),
                let close = data.lastIndex(of: UInt8(ascii: ")")), close + 2 < data.count
            else { return false }
            return data[close + 2] == UInt8(ascii: "T") || data[close + 2] == UInt8(ascii: "t")
        }
    }

    /// Sends SIGSTOP and waits until every thread of the process has stopped. `kill` returns
    /// before that: one thread takes the signal and stops the others when it next runs, and on a
    /// loaded machine the others serve requests meanwhile (a frozen server answered a read).
    /// - Throws: `unavailable` when the process is not stopped within `timeout`.
    public static func freeze(_ pid: Int32, within timeout: Duration = .seconds(10)) async throws {
        guard kill(pid, SIGSTOP) == 0 else { throw CoordinationError(.unavailable, "cannot stop process \(pid): errno \(errno)") }
        let deadline = ContinuousClock.now + timeout
        while !isStopped(pid) {
            guard ContinuousClock.now < deadline else { throw CoordinationError(.unavailable, "process \(pid) did not stop within \(timeout)") }
            try await Task.sleep(for: .milliseconds(2))  // no event tells another process's stop but waitid, which Process owns
        }
    }

    /// Whether the process holds a socket listening on TCP `port` (IPv4 or IPv6, any address):
    /// that the server answering on the port is this process, not another one that bound it first.
    public static func listens(_ pid: Int32, on port: Int) -> Bool {
        let sockets = listeningSockets(on: port)
        guard !sockets.isEmpty, let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else {
            return false
        }
        return descriptors.contains { descriptor in
            // A socket's link reads "socket:[INODE]".
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)") else { return false }
            return sockets.contains(target)
        }
    }

    /// "socket:[INODE]" of every socket listening on TCP `port`, from /proc/net/tcp and tcp6.
    private static func listeningSockets(on port: Int) -> Set<String> {
        var sockets: Set<String> = []
        let hexPort = String(port, radix: 16, uppercase: true)
        let paddedPort = String(repeating: "0", count: max(0, 4 - hexPort.count)) + hexPort
        // "sl: LOCAL-HEX:PORT REMOTE-HEX:PORT st tx:rx tr:when retrnsmt uid timeout inode …": a
        // listener's remote address is all zeros and its state (st) 0A. The lines are searched
        // for that as bytes: a test run leaves thousands of sockets in TIME_WAIT, and
        // splitting every line into fields took some 100 ms a call in a debug build, blocking a
        // thread of the cooperative pool (a test calling it 40 times held up a whole run's start).
        for (table, addressDigits) in [("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)] {
            guard let data = wholeFile(table) else { continue }
            let needle = Data(":\(paddedPort) \(String(repeating: "0", count: addressDigits)):0000 0A ".utf8)
            var from = data.startIndex
            while let found = data.range(of: needle, in: from..<data.endIndex) {
                let lineStart = data[..<found.lowerBound].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? data.startIndex
                let lineEnd = data[found.lowerBound...].firstIndex(of: UInt8(ascii: "\n")) ?? data.endIndex
                let fields = data[lineStart..<lineEnd].split(separator: UInt8(ascii: " "))
                if fields.count > 9 { sockets.insert("socket:[\(String(decoding: fields[9], as: UTF8.self))]") }
                from = lineEnd
            }
        }
        return sockets
    }

    /// The whole of a /proc file. `FileManager.contents(atPath:)` and `String(contentsOfFile:)`
    /// make one read when a file's size reads 0, as /proc's do, and a table such as /proc/net/tcp
    /// gives one page (some 27 sockets) per read: a server listening beyond it was taken for one
    /// that did not listen, and a private etcd "did not become ready" on a machine with many
    /// sockets open.
    private static func wholeFile(_ path: String) -> Data? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return try? handle.readToEnd() ?? Data()
    }

    /// The fields of /proc/PID/stat after the command name: state, ppid, pgrp, …
    private static func statFields(of pid: Int32) -> [Substring]? {
        guard let data = wholeFile("/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        // "pid (name) state ppid pgrp …": the name may hold spaces, so read after its closing paren.
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }
}
