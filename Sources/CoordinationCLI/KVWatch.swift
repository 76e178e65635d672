import ArgumentParser
import Coordination

struct KVWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print a key's changes as JSON lines until interrupted.",
        discussion: """
            The first line is a snapshot of the current state, then one line per change:
              {"type":"snapshot","records":[{"key":"/app/a","value":"aGk=",…}]}
              {"type":"put","record":{"key":"/app/a","value":"aG8=","version":1,…}}
              {"type":"delete","key":"/app/a"}
            Values are base64. After a lost connection a fresh snapshot follows; a consumer that \
            applies every line to a map always ends up with the store's state. The key need not \
            exist. Ctrl-C (SIGINT) or SIGTERM ends the watch with status 0.

              coord --store zookeeper://127.0.0.1:2181/app kv watch /config --subtree
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The key to watch.") var key: String
    @Flag(help: "Watch the key and every key beneath it.") var subtree = false
    @Flag(help: "Watch the key and its direct children (not deeper keys).") var children = false

    func validate() throws {
        if subtree && children { throw ValidationError("--subtree and --children exclude each other: choose one scope") }
    }

    func run() async throws {
        let context = try await CommandContext.make(global)
        let key = try Key(key)
        let scope: WatchScope = subtree ? .subtree : children ? .children : .key
        try await context.withStore { store in
            _ = try await Interruption.runUntilSignalled {
                for try await event in store.watch(key, scope: scope) {
                    StandardStreams.writeLine(JSONLines.line(WatchEventJSON(event)))
                }
            }
        }
    }
}
