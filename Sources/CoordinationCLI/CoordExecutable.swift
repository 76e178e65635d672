import Foundation

/// This process's own `coord` executable, as a program to start again (the commands' watchdog,
/// the re-exec that keeps ignored signals ignored): `/proc/self/exe` when it answers as coord
/// does, else the path coord was started by. Started through the dynamic loader (`ld.so coord
/// …`) or an emulator, `/proc/self/exe` is that program, and started with coord's arguments it
/// failed at once: every shell job of a worker started so with SIGHUP ignored (under `nohup`)
/// exited 127, "error while loading shared libraries: __coord-exec-ignoring-signals".
enum CoordExecutable {
    /// The first candidate that answers `__lifeline --check` as coord does; `nil` when none does.
    /// Each path is asked once per process.
    static func find() async -> String? {
        for candidate in candidates() where await ShellJobHandler.Lifeline.answersAsWatchdog(candidate) { return candidate }
        return nil
    }

    /// `/proc/self/exe`, then `argv[0]` when it is a path (the loader passes coord's path there;
    /// a bare name was found on PATH, and `/proc/self/exe` is then coord itself).
    private static func candidates() -> [String] {
        var paths: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { paths.append(exe) }
        if let first = CommandLine.arguments.first, first.contains("/") {
            let path = URL(fileURLWithPath: first).standardizedFileURL.path
            if !paths.contains(path) { paths.append(path) }
        }
        return paths.filter { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
