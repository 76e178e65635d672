import ArgumentParser
import Coordination
import CoordinationRecipes
import Foundation

struct ElectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elect",
        abstract: "Run a command only while this process is the elected leader.",
        discussion: """
            Campaigns in the election NAME (a plain name is the key /elections/NAME), waits until \
            elected, then runs COMMAND and exits with its status, resigning when it exits. Every \
            candidate runs the same coord elect; exactly one runs COMMAND at a time. When the \
            leader dies, the next candidate is elected once the server ends the dead leader's \
            session: a session TTL after its last keep-alive, plus the moment it takes to hear of it.

            If leadership may be lost while COMMAND runs, COMMAND is stopped before another \
            candidate can lead (contact lost: SIGTERM a fifth of the session TTL before the \
            session may expire, SIGKILL half that later, at most 5 s; session expired: at once) \
            and coord exits with status 11, so a supervisor can start it again. If coord itself is \
            killed or frozen, a watchdog beside COMMAND kills it, and what it started, before the \
            session can expire. COMMAND gets \
            COORD_LEADER_TOKEN, larger for every later leader. Whatever COMMAND started that still \
            runs when it exits or is stopped (in the background, after a setsid or a double fork) \
            is stopped the same way before coord resigns.

            A SIGINT, SIGTERM or SIGHUP to coord is passed on to COMMAND (one ignored when coord \
            started, as under nohup, stays ignored, for COMMAND too; killed with SIGKILL if still \
            running 5 s later), and coord still exits with COMMAND's status; before it is elected, \
            one ends the campaign with 128 + the signal's number (130, 143, 129).

              coord --store etcd://127.0.0.1:2379 elect report-writer -- ./write-reports
              coord elect /myapp/leader --identity "$(hostname)" -- ./serve --primary
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Option(help: "How this candidate appears to others (default: host name and process id).") var identity: String?
    @Argument(help: "The election's name or key.") var name: String
    @Argument(parsing: .postTerminator, help: "The command to run while leader, after --.") var command: [String] = []

    func run() async throws {
        // The command line's own values first: no command is a usage error, whatever the settings.
        try HeldCommand.requireCommand(command)
        let key = try HeldCommand.key(name, under: "/elections", kind: "an election")
        if let identity, identity.allSatisfy(\.isWhitespace) {
            throw CommandLineProblem(
                "--identity '\(identity)' is \(identity.isEmpty ? "empty" : "blank"): give the name others see for this candidate, or leave --identity out for host name and process id")
        }
        let context = try await CommandContext.make(global)
        context.noteIfHeldInMemory("no other candidate takes part in the election")
        let identity = identity ?? "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
        let silence = StoreSilence()
        let status = try await context.withStore(closing: silence) { store in
            try await HeldCommand.removingIfUnused(key, in: store, noting: silence) {
                try await HeldCommand.run(command, holding: "leadership of \(key)", in: store) { runChild in
                    let election = LeaderElection(store: store, path: key, identity: identity, logger: context.logger)
                    // Without a timeout a campaign ends only in leadership, or by throwing.
                    guard let lease = try await election.campaign() else { throw CancellationError() }
                    context.logger.info("elected", metadata: ["election": "\(key)", "token": "\(lease.token)"])
                    return try await HeldCommand.holding(lease, in: store, at: key) {
                        try await runChild(["COORD_LEADER_TOKEN": String(lease.token)])
                    }
                }
            }
        }
        if status != 0 { throw ExitCode(status) }
    }
}
