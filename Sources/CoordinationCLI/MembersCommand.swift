import ArgumentParser
import Coordination
import CoordinationRecipes
import Foundation
import Synchronization

struct MembersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members",
        abstract: "Show the live members of a group, follow it with --watch, or run a command as a member with --join.",
        discussion: """
            A group (a plain name is the key /groups/NAME) holds one ephemeral key per live \
            member, named by the member's id, with its metadata as the value; a member that dies \
            leaves when its session ends. Prints one member per line, in join order, its id and \
            its metadata:
              web-1  10.0.0.5:8080
              web-2  "two\\nlines"
              web-3  <16 bytes>
            (metadata that is not one line of text quoted and escaped, bytes that are not UTF-8 \
            by their count; an id or metadata that would read as something else, such as an id \
            "--", quoted too); --json prints one object per member, every byte kept:
              {"id":"web-1","joinedRevision":1042,"metadata":"MTAuMC4wLjU6ODA4MA=="}
            --watch prints the whole group again after every change until interrupted, each state \
            ended by a line "--" (so a reader knows a state is whole when it arrives; an empty \
            group is the "--" alone); with --json each state is one line, {"members":[…]}, its \
            list empty when the group is. As for kv watch, stderr says when contact with the \
            store was lost and when it came back (the state shown meanwhile may be stale). Ctrl-C \
            (SIGINT) or SIGTERM ends --watch with status 0.

            With --join ID -- COMMAND, coord joins the group as member ID (with --metadata as its \
            value) and runs COMMAND as a member, joining again by itself if its session expires, \
            and leaves when COMMAND exits, with COMMAND's status; signals, and a watchdog that \
            kills COMMAND if coord is killed or frozen, as for coord lock. COMMAND gets \
            COORD_MEMBER_ID. An ID that another live member holds is refused (status 3).

              coord --store zookeeper://127.0.0.1:2181 members workers
              coord members /myapp/workers --watch --json
              coord members web --join web-1 --metadata 10.0.0.5:8080 -- ./serve
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The group's name or key.") var group: String
    @Flag(help: "Follow the group, printing it after every change.") var watch = false
    @Flag(help: "One JSON object per member: id, metadata (base64), joinedRevision; with --watch, one {\"members\":[…]} per state.")
    var json = false
    @Option(help: "Join as this member while COMMAND (after --) runs.") var join: String?
    @Option(help: "With --join: the member's metadata, shown by coord members.") var metadata: String?
    @Argument(parsing: .postTerminator, help: "With --join: the command to run as a member, after --.") var command: [String] = []

    func run() async throws {
        try checkOptions()
        let key = try HeldCommand.key(group, under: "/groups", kind: "a group")
        let context = try await CommandContext.make(global)
        if let join {
            _ = try Self.memberKey(join, in: key)
            context.noteIfHeldInMemory("no other process sees the member")
            let status = try await Self.runAsMember(join, metadata: Array((metadata ?? "").utf8), of: key, command, context: context)
            if status != 0 { throw ExitCode(status) }
            return
        }
        let json = json
        if watch { context.noteIfHeldInMemory(CommandContext.watchedInMemory) }
        try await context.withStore { store in
            let membership = Membership(store: store, group: key, logger: context.logger)
            guard watch else {
                print(try await membership.members(), json: json)
                return
            }
            try await Interruption.runUntilSignalled {
                try await SessionNotes.noting(store, whatFollows: "the group follows if it changed meanwhile") {
                    for try await members in membership.watch() {
                        if json {
                            StandardStreams.writeLine(JSONLines.line(MembersJSON(members: members.map(MemberJSON.init))))
                        } else {
                            print(members, json: false)
                            StandardStreams.writeLine("--")
                        }
                    }
                }
            }
        }
    }

    private func checkOptions() throws {
        if join == nil {
            if metadata != nil { throw CommandLineProblem("--metadata goes with --join ID") }
            if !command.isEmpty { throw CommandLineProblem("a command runs only with --join ID: coord members \(group) --join ID -- COMMAND") }
            return
        }
        if watch || json { throw CommandLineProblem("--join runs a command as a member; --watch and --json show the group: use one or the other") }
        try HeldCommand.requireCommand(command, example: "./serve")
        if let join, let problem = join.isEmpty ? "it is empty" : Key.segmentProblem(join) {
            throw CommandLineProblem("--join \(Self.quoted(join)): a member's id is one key segment: \(problem)")
        }
    }

    /// The key of member `id` in `group`; an id that makes too long a key is the option's bad
    /// value too, found before the store is opened rather than when joining.
    private static func memberKey(_ id: String, in group: Key) throws -> Key {
        do {
            return try group.child(id)
        } catch {
            throw CommandLineProblem("--join \(quoted(id)): \(error.message)")
        }
    }

    /// `id` in quotes, its control characters escaped (they are not allowed, and would not show).
    private static func quoted(_ id: String) -> String {
        var text = "'"
        for scalar in id.unicodeScalars.prefix(40) {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                text += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                text.unicodeScalars.append(scalar)
            }
        }
        return text + (id.unicodeScalars.count > 40 ? "…'" : "'")
    }

    /// Runs `argv` as member `id` of `group`: joined before it starts, joined again after an
    /// expiry, left when it exits; its status is returned.
    static func runAsMember(
        _ id: String, metadata: [UInt8], of group: Key, _ argv: [String], context: CommandContext
    ) async throws -> Int32 {
        let silence = StoreSilence()
        return try await context.withStore(closing: silence) { store in
            try await HeldCommand.removingIfUnused(group, in: store, noting: silence) {
                try await HeldCommand.run(argv, holding: "membership of \(group)", in: store, exclusive: false) { runChild in
                    let membership = Membership(store: store, group: group, logger: context.logger)
                    let (joins, joined) = AsyncStream<Void>.makeStream()
                    let current = LatestMember()
                    return try await withThrowingTaskGroup(of: Int32?.self) { tasks in
                        tasks.addTask {
                            try await membership.stayJoined(id: id, metadata: metadata) { member, _ in
                                current.member.withLock { $0 = member }
                                joined.yield()
                            }
                            return nil
                        }
                        tasks.addTask {
                            var first = joins.makeAsyncIterator()
                            guard await first.next() != nil else { return nil }
                            return try await runChild(["COORD_MEMBER_ID": id])
                        }
                        defer { tasks.cancelAll() }
                        while let outcome = try await tasks.next() {
                            if let status = outcome {
                                await leaveOnce(current.member.withLock { $0 }, of: membership, in: store)
                                return status
                            }
                        }
                        throw CancellationError()
                    }
                }
            }
        }
    }

    /// Leaves once, before stayJoined is cancelled: a cancelled stayJoined retries its leave
    /// while the session may live, up to two TTLs out of contact, and coord does not wait for
    /// that. If this leave fails, the handle is closed instead, which ends those retries; the
    /// member ends with the session, as a lock's entry does.
    private static func leaveOnce(_ member: Member?, of membership: Membership, in store: any CoordinationStore) async {
        guard let member else { return }
        do {
            try await membership.leave(member)
        } catch {
            await store.close()
        }
    }

    private func print(_ members: [Member], json: Bool) {
        for member in members {
            if json {
                StandardStreams.writeLine(JSONLines.line(MemberJSON(member)))
            } else {
                StandardStreams.writeLine(MemberText.line(member))
            }
        }
    }
}

/// The member a `--join` made last (it joins again after an expiry).
private final class LatestMember: Sendable {
    let member = Mutex<Member?>(nil)
}

/// One state of a watched group: `{"members":[…]}`.
struct MembersJSON: Encodable {
    let members: [MemberJSON]
}

struct MemberJSON: Encodable {
    let id: String
    let metadata: String
    let joinedRevision: Int64

    init(_ member: Member) {
        id = member.id
        metadata = Data(member.metadata).base64EncodedString()
        joinedRevision = member.joinedRevision
    }
}
