import ArgumentParser
import Coordination

struct KVPut: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Create a key or overwrite its value.",
        discussion: """
            Without VALUE the value is read from stdin, byte for byte (binary is fine); from a \
            terminal, a line on stderr says so (end the value with Ctrl-D). Missing parents are \
            created. Prints nothing on success.

              coord kv put /app/config/color blue
              coord kv put /app/logo < logo.png
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The key, an absolute path such as /app/config/color.") var key: String
    @Argument(help: "The value; read from stdin when omitted.") var value: String?

    func run() async throws {
        let context = try await CommandContext.make(global)
        let key = try Key(key)
        let bytes = try await KV.value(value, for: key, command: "put")
        // Refuse an oversized value before opening a connection.
        try CoordinationLimits.validate(value: bytes, for: key)
        _ = try await context.withStore { store in try await store.put(key, value: bytes) }
    }
}

struct KVSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Overwrite the value of an existing key, optionally only at a version.",
        discussion: """
            Without VALUE the value is read from stdin, byte for byte, as for put: a binary \
            value, or one too large for a command line. Fails with status 2 when the key does \
            not exist (kv put creates it) and 4 when --if-version does not match. Prints the \
            key's new version.

              coord kv set /app/config/color green --if-version 3
              coord kv set /app/logo --if-version 3 < logo.png
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The key.") var key: String
    @Argument(help: "The new value; read from stdin when omitted.") var value: String?
    // Unconditional: `-1` is taken as the value (and refused by name), not as an unknown option.
    @Option(parsing: .unconditional, help: ArgumentHelp("Only if the key is at this version.", valueName: "n")) var ifVersion: Int64?

    func run() async throws {
        try KV.check(ifVersion: ifVersion)
        let context = try await CommandContext.make(global)
        let key = try Key(key)
        let bytes = try await KV.value(value, for: key, command: "set")
        try CoordinationLimits.validate(value: bytes, for: key)
        let record = try await context.withStore { store in
            do {
                return try await store.set(key, value: bytes, ifVersion: ifVersion)
            } catch var error as CoordinationError where error.code == .noNode {
                // "no such key /logo" alone left the fix unsaid, to someone who expected set to create.
                error.message += "; kv set only changes a key that exists: create it with coord kv put \(key.path)"
                throw error
            }
        }
        StandardStreams.writeLine(String(record.version))
    }
}

struct KVCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a key that must not exist yet, and print the key created.",
        discussion: """
            With --sequential a 10-digit, strictly increasing number is appended to the key's last \
            segment (/app/queue/job- becomes /app/queue/job-0000000007): a queue. With --ephemeral \
            the key belongs to this command's session and vanishes when coord exits, which makes \
            it useful mainly on a shared store to see ephemeral keys at work. Without VALUE the \
            value is empty. Fails with status 3 when the key exists.

              coord kv create /app/queue/job- '{"task":1}' --sequential
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The key (for --sequential, the prefix of the key).") var key: String
    @Argument(help: "The value; empty when omitted.") var value: String?
    @Flag(help: "The key vanishes when this session ends.") var ephemeral = false
    @Flag(help: "Append a 10-digit, increasing sequence number.") var sequential = false

    func run() async throws {
        let context = try await CommandContext.make(global)
        let key = try Self.key(key, sequential: sequential)
        let bytes = Array((value ?? "").utf8)
        try CoordinationLimits.validate(value: bytes, for: key)
        let mode = CreateMode(ephemeral: ephemeral, sequential: sequential)
        let record = try await context.withStore { store in
            try await store.create(key, value: bytes, mode: mode)
        }
        StandardStreams.writeLine(record.key.path)
    }
}

extension KVCreate {
    /// The key to create. ZooKeeper's own tools take `create -s /queue/` for children named by
    /// their number alone; here a sequential name needs a prefix, which the refusal suggests.
    static func key(_ text: String, sequential: Bool) throws(CoordinationError) -> Key {
        do {
            return try Key(text)
        } catch {
            guard sequential, text.count > 1, text.hasSuffix("/"), let parent = try? Key(String(text.dropLast())) else { throw error }
            var refusal = error
            refusal.message += "; a sequential key needs a prefix for its number: \(parent.path)/item- gives \(parent.path)/item-0000000000"
            throw refusal
        }
    }
}
