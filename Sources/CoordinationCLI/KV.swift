import ArgumentParser
import Coordination

/// `coord kv …`: the key-value commands.
struct KV: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "kv",
            abstract: "Read, write, list, delete and watch keys.",
            discussion: """
                Keys are absolute paths: /app/config/color. Segments are non-empty, never . or .., \
                without control characters; the first segment 'zookeeper' is reserved. Values are \
                bytes, at most \(Coordination.CoordinationLimits.maxValueBytes) per key. Creating a \
                key creates its missing parents as empty keys.

                Every key carries a version: 0 when created, +1 for each write. Pass it to \
                --if-version to change or delete a key only if nobody else changed it meanwhile. \
                A key deleted and created again starts over at 0, and passes for the one you read \
                at the same version: its createRevision (kv get --json) tells them apart.

                EXAMPLES
                  coord kv put /app/config/color blue
                  echo -n 42 | coord kv put /app/config/size
                  coord kv get /app/config/color
                  coord kv set /app/config/color green --if-version 0
                  coord kv create /app/queue/job- --sequential
                  coord kv ls /app
                  coord kv tree /app
                  coord kv rm /app --recursive
                  coord kv watch /app --subtree
                """,
            subcommands: [
                KVPut.self, KVGet.self, KVCreate.self, KVSet.self, KVList.self, KVTree.self, KVRemove.self,
                KVWatch.self,
            ])
    }
}

extension KV {
    /// `--if-version` as given: versions start at 0, so a negative one is a mistake, not a refusal
    /// to expect. Checked in `run()`, so that it is coord's one line (status 64), as for every
    /// other bad value of a command's own option, not argument-parser's usage text.
    static func check(ifVersion: Int64?) throws {
        if let ifVersion, ifVersion < 0 {
            throw CommandLineProblem("--if-version must be 0 or more (a key's version starts at 0), got \(ifVersion)")
        }
    }

    /// The value typed after the key as UTF-8, else all of stdin, byte for byte (binary, or too
    /// large for a command line); `command` is `put` or `set`, for the message when stdin cannot be read.
    /// Read from a terminal, it says so first on stderr: it waited in silence, looking hung.
    static func value(_ typed: String?, for key: Key, command: String) async throws -> [UInt8] {
        if let typed { return Array(typed.utf8) }
        if StandardStreams.inputIsTerminal {
            StandardStreams.writeError(
                "coord: reading the value of \(key.path) from standard input; end it with Ctrl-D at the start of a line (or give the value after the key)")
        }
        do {
            return try await StandardStreams.readAll()
        } catch {
            throw CommandLineProblem("\(error.description); give the value as an argument, or pipe it in (echo hi | coord kv \(command) \(key.path))")
        }
    }
}
