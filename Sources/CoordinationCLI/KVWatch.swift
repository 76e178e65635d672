import ArgumentParser
import Coordination

struct KVWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print a key's changes as JSON lines until interrupted.",
        discussion: """
            The first line is a snapshot of the current state, then one line per change (the \
            keys of each object sorted):
              {"records":[{…,"key":"/app/a",…,"value":"aGk=",…}],"type":"snapshot"}
              {"record":{…,"key":"/app/a",…,"value":"aG8=","version":1},"type":"put"}
              {"key":"/app/a","type":"delete"}
            Values are base64. After a lost connection the changes made meanwhile follow (or a \
            fresh snapshot, where they cannot be replayed), and stderr says when contact was lost \
            and when it came back; a consumer that applies every line to a map always ends up \
            with the store's state. The key need not exist. Ctrl-C (SIGINT) or SIGTERM ends the \
            watch with status 0.

            Without a scope flag only the key itself is watched. At most one scope flag:
              --children        /jobs and /jobs/a, not /jobs/a/runs
              --grandchildren   /jobs, /jobs/a and /jobs/a/runs, not /jobs/a/runs/1
              --great-grandchildren  /jobs down to /jobs/a/runs/1, not /jobs/a/runs/1/claim
              --subtree         /jobs and everything beneath it
            A narrower scope costs the store less: on ZooKeeper a folder's listing is watched only \
            where its children are in scope.

              coord --store zookeeper://127.0.0.1:2181/app kv watch /config --subtree
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The key to watch.") var key: String
    @Flag(help: "Watch the key and every key beneath it.") var subtree = false
    @Flag(help: "Watch the key and its direct children (not deeper keys).") var children = false
    @Flag(help: "Watch the key, its children and their children (not deeper keys).") var grandchildren = false
    @Flag(help: "Watch the key and the keys one, two and three levels beneath it (not deeper keys).")
    var greatGrandchildren = false
    /// `kv get`, `ls` and `tree` take `--json`; refusing it here, where JSON is all there is,
    /// sent someone who added it by habit back to the help for nothing.
    @Flag(help: "Accepted for symmetry with kv get, ls and tree: watch output is always JSON lines.")
    var json = false

    /// Checked first in `run()`, not in `validate()`, so that a bad value is coord's one line
    /// (status 64), as for every command's own options, not argument-parser's usage text.
    func checkOptions() throws {
        let given = [
            ("--subtree", subtree), ("--children", children), ("--grandchildren", grandchildren),
            ("--great-grandchildren", greatGrandchildren),
        ].filter(\.1).map(\.0)
        guard given.count > 1 else { return }
        let named = given.dropLast().joined(separator: ", ") + " and " + given.last!
        throw CommandLineProblem("\(named) exclude each other: choose one scope")
    }

    func run() async throws {
        try checkOptions()
        let context = try await CommandContext.make(global)
        let key = try Key(key)
        context.noteIfHeldInMemory(CommandContext.watchedInMemory)
        let scope: WatchScope =
            subtree ? .subtree : greatGrandchildren ? .greatGrandchildren : grandchildren ? .grandchildren : children ? .children : .key
        if key.isRoot && scope == .key {
            // The root holds no record and never changes: such a watch printed an empty snapshot
            // and then nothing, for ever, while the keys beneath it changed.
            throw CommandLineProblem(
                "kv watch / without a scope flag watches the namespace's root alone, which holds no value and never changes; "
                    + "add --children or --subtree to watch the keys beneath it")
        }
        try await context.withStore { store in
            _ = try await Interruption.runUntilSignalled {
                try await SessionNotes.noting(store) {
                    for try await event in store.watch(key, scope: scope) {
                        StandardStreams.writeLine(JSONLines.line(WatchEventJSON(event)))
                    }
                }
            }
        }
    }
}
