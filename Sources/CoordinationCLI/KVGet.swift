import ArgumentParser
import Coordination
import Foundation

struct KVGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print a key's value.",
        discussion: """
            Prints the value's bytes exactly, adding a newline only when stdout is a terminal, so \
            that `coord kv get /app/logo > logo.png` gives back the same file. Fails with status \
            2 when the key does not exist. With --json prints the record as one JSON object: key, \
            value (base64), version, createRevision, modRevision, ephemeral and, for an ephemeral \
            key, ownerSession (the id of the session it belongs to, which coord config check names).

              coord --store etcd://127.0.0.1:2379/app kv get /config/color
              coord --store etcd://127.0.0.1:2379/app kv get /config/color --json
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The key.") var key: String
    @Flag(help: "Print the record as a JSON object.") var json = false

    func run() async throws {
        let context = try await CommandContext.make(global)
        let key = try Key(key)
        // Thrown within withStore, which notes why a key is missing on memory://.
        let record = try await context.withStore { store in
            guard let record = try await store.get(key) else { throw await UnwrittenParentNote.missing(key, in: store) }
            return record
        }
        if json {
            StandardStreams.writeLine(JSONLines.line(RecordJSON(record)))
        } else {
            StandardStreams.write(record.value)
            if StandardStreams.outputIsTerminal { StandardStreams.write([UInt8(ascii: "\n")]) }
        }
    }
}

struct KVList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List a key's children, one name per line, sorted.",
        discussion: """
            coord kv ls / lists the top-level keys. With --json prints each child's record as a \
            JSON object, one per line. Fails with status 2 when the key does not exist. On etcd, \
            a name that is no key but has keys beneath it (another tool wrote them without their \
            parents) is not listed: a note on stderr names it.

              coord --store zookeeper://127.0.0.1:2181/app kv ls /config
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The key whose children to list.") var key: String = "/"
    @Flag(help: "Print each child's record as a JSON object.") var json = false

    func run() async throws {
        let context = try await CommandContext.make(global)
        let key = try Key(key)
        try await context.withStore { store in
            let (names, note) = try await UnwrittenParentNote.listing(key, in: store)
            for name in names {
                if json {
                    // A child deleted since the listing is skipped.
                    guard let record = try await store.get(try key.child(name)) else { continue }
                    StandardStreams.writeLine(JSONLines.line(RecordJSON(record)))
                } else {
                    StandardStreams.writeLine(name)
                }
            }
            if let note { StandardStreams.writeError(note) }
        }
    }
}

struct KVRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Delete a key.",
        discussion: """
            A key with children is refused (status 5) unless --recursive is given. With \
            --if-version the key is deleted only at that version (status 4 otherwise). A \
            recursive delete that takes more than a second (a large tree on ZooKeeper, which \
            deletes znode by znode) shows on stderr how many keys it has deleted.

              coord kv rm /app/config/color --if-version 2
              coord kv rm /app --recursive
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The key.") var key: String
    @Flag(name: [.short, .long], help: "Delete the key and everything beneath it.") var recursive = false
    // Unconditional: `-1` is taken as the value (and refused by name), not as an unknown option.
    @Option(parsing: .unconditional, help: ArgumentHelp("Only if the key is at this version.", valueName: "n")) var ifVersion: Int64?

    func run() async throws {
        try KV.check(ifVersion: ifVersion)
        let context = try await CommandContext.make(global)
        let key = try Key(key)
        try await context.withStore { store in
            if recursive, let reporting = store as? any RecursiveDeleteReporting {
                let printer = DeleteProgressPrinter(key: key, terminal: isatty(STDERR_FILENO) != 0)
                defer { printer.finish() }
                try await reporting.deleteRecursively(key, ifVersion: ifVersion, progress: printer.show)
                return
            }
            do {
                try await store.delete(key, ifVersion: ifVersion, recursive: recursive)
            } catch var error as CoordinationError where error.code == .notEmpty && !recursive {
                // The store's "delete recursively" names no flag: say the command that does it.
                error.message += ": coord kv rm \(key.path) --recursive deletes it and everything beneath it"
                throw error
            }
        }
    }
}
