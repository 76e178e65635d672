import ArgumentParser
import Coordination

struct KVTree: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tree",
        abstract: "Print a key and everything beneath it, indented, with versions.",
        discussion: """
            Values are shown quoted when they are text of at most 60 characters (a line break \
            escaped as \\n, so each key stays one line), as a byte count otherwise. With \
            --json prints every record as a JSON object, one per line, parents first. Fails with \
            status 2 when the key does not exist.

              coord kv tree /
              coord kv tree /app --json
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The top of the subtree.") var key: String = "/"
    @Flag(help: "Print records as JSON objects, one per line.") var json = false

    func run() async throws {
        let context = try await CommandContext.make(global)
        let key = try Key(key)
        try await context.withStore { store in
            if key.isRoot && !json { StandardStreams.writeLine("/") }
            var found = false
            var tree = TreeText()
            for try await record in store.walk(key) {
                found = true
                StandardStreams.writeLine(json ? JSONLines.line(RecordJSON(record)) : tree.line(for: record))
            }
            if !found && !key.isRoot { throw await UnwrittenParentNote.missing(key, in: store) }
        }
    }
}
