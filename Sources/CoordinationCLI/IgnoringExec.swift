import Foundation
import Synchronization

/// Starts a command with the signals coord's parent left ignored still ignored. Subprocess sets
/// every signal to its default action in the child, so coord starts itself with ``marker``: that
/// process ignores the signals again and replaces itself with the command (same process id).
/// The one way coord starts what it runs for someone: the command of `coord lock`, `elect` and
/// `members --join` (``ChildCommand``), and a worker's shell jobs (``ShellJobHandler``).
enum IgnoringExec {
    /// coord's first argument when it is only to ignore signals and run a command.
    static let marker = "__coord-exec-ignoring-signals"

    /// Whether this process's entry point reads ``marker`` (``runIfAsked(_:)`` ran): coord does,
    /// a test process calling a handler in-process does not, and must run the command as it is.
    private static let entryReadsMarker = Atomic<Bool>(false)

    /// The executable and arguments that run `argv` with `ignored` still ignored, or `nil` when
    /// nothing is to be ignored (or this process is not coord, or cannot find itself) and `argv`
    /// can be run as it is. coord is found as ``CoordExecutable`` finds it: started through the
    /// dynamic loader, this process's executable is the loader.
    static func wrapping(_ argv: [String], ignoring ignored: Set<Int32>) async -> (executable: String, arguments: [String])? {
        guard !ignored.isEmpty, entryReadsMarker.load(ordering: .relaxed), let coord = await CoordExecutable.find() else { return nil }
        let numbers = ignored.sorted().map(String.init).joined(separator: ",")
        return (coord, [marker, numbers] + argv)
    }

    /// When coord was started as ``wrapping(_:ignoring:)`` says (`arguments` are its own, program
    /// name first), ignores the signals and runs the command in its place; otherwise returns.
    /// A command that cannot run is reported as ``ChildCommand`` reports it, with a shell's status.
    static func runIfAsked(_ arguments: [String]) {
        entryReadsMarker.store(true, ordering: .relaxed)
        guard arguments.count >= 4, arguments[1] == marker else { return }
        for number in arguments[2].split(separator: ",").compactMap({ Int32($0) }) { signal(number, SIG_IGN) }
        let argv = Array(arguments.dropFirst(3))
        if let path = resolve(argv[0]) {
            var cArguments = argv.map { strdup($0) } + [nil]
            execv(path, &cArguments)  // returns only on failure
        }
        let (status, why) = ChildCommand.notStarted(argv[0])
        StandardStreams.writeError("coord: cannot run \(argv[0]): \(why)")
        exit(status)
    }

    /// `program`'s path: as it is when it has a '/', else the first executable file of that
    /// name on PATH, as Subprocess finds a command by name.
    private static func resolve(_ program: String) -> String? {
        if program.contains("/") { return program }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (folder.isEmpty ? "." : String(folder)) + "/" + program
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
                access(candidate, X_OK) == 0
            {
                return candidate
            }
        }
        return nil
    }
}
