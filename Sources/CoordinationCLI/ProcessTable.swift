import Foundation

/// Linux's process table, from /proc: what stopping a command must wait for when the processes
/// left are not our children, whose end no event reports.
enum ProcessTable {
    struct Entry: Sendable {
        let pid: pid_t
        let parent: pid_t
        let group: pid_t
        /// Neither a zombie nor dead: it still runs something. A zombie runs nothing, and nobody
        /// may ever reap those of a parent that ended.
        let runs: Bool
    }

    /// Every process's entry; `nil` where there is no /proc.
    static func entries() -> [Entry]? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        return names.compactMap { name in pid_t(name).flatMap(entry(of:)) }
    }

    /// Process `pid`'s entry; `nil` when there is none.
    static func entry(of pid: pid_t) -> Entry? {
        // "pid (name) state ppid pgrp …": the fields after the last parenthesis (the name may hold any).
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return nil
        }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let parent = pid_t(fields[1]), let group = pid_t(fields[2]) else { return nil }
        return Entry(pid: pid, parent: parent, group: group, runs: fields[0] != "Z" && fields[0] != "X")
    }

    /// Whether process `pid`'s environment (as it started) holds the entry `entry` (`NAME=VALUE`
    /// bytes); `false` where it cannot be read (another user's, gone).
    static func environment(of pid: pid_t, holds entry: [UInt8]) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
        return data.split(separator: 0).contains { $0.elementsEqual(entry) }
    }

    /// The processes below `root` (its children, theirs, and so on), from `entries`.
    static func descendants(of root: pid_t, in entries: [Entry]) -> [Entry] {
        let children = Dictionary(grouping: entries, by: \.parent)
        var found: [Entry] = []
        var parents = [root]
        while let parent = parents.popLast() {
            for child in children[parent] ?? [] where child.pid != root {
                found.append(child)
                parents.append(child.pid)
            }
        }
        return found
    }
}
