import ArgumentParser
import Coordination
import CoordinationRecipes
import Foundation

struct MembersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members",
        abstract: "Show the live members of a group, or follow it with --watch.",
        discussion: """
            A group (a plain name is the key /groups/NAME) holds one ephemeral key per live \
            member, named by the member's id, with its metadata as the value; a member that dies \
            leaves when its session ends. Prints one member per line (id and metadata), in join \
            order; --json prints one object per line. --watch prints the whole group again after \
            every change until interrupted, each state ended by a line "--" (so a reader knows a \
            state is whole when it arrives; an empty group is the "--" alone); with --json each \
            state is one line, {"members":[…]}, its list empty when the group is.

              coord --store zookeeper://127.0.0.1:2181 members workers
              coord members /myapp/workers --watch --json
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The group's name or key.") var group: String
    @Flag(help: "Follow the group, printing it after every change.") var watch = false
    @Flag(help: "One JSON object per member: id, metadata (base64), joinedRevision; with --watch, one {\"members\":[…]} per state.")
    var json = false

    func run() async throws {
        let context = try await CommandContext.make(global)
        let key = try HeldCommand.key(group, under: "/groups")
        let json = json
        try await context.withStore { store in
            let membership = Membership(store: store, group: key, logger: context.logger)
            guard watch else {
                print(try await membership.members(), json: json)
                return
            }
            try await Interruption.runUntilSignalled {
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

    private func print(_ members: [Member], json: Bool) {
        for member in members {
            if json {
                StandardStreams.writeLine(JSONLines.line(MemberJSON(member)))
            } else {
                let metadata = String(decoding: member.metadata, as: UTF8.self)
                StandardStreams.writeLine(metadata.isEmpty ? member.id : "\(member.id)  \(metadata)")
            }
        }
    }
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
