import ArgumentParser
import Coordination

/// `coord config`: what the configuration resolves to, and whether it works.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show the resolved configuration and test it.",
        subcommands: [ConfigCheck.self])
}

/// `coord config check`: every setting with the source it came from (passwords masked), then a
/// connection to the store. Exits like any other command when the store cannot be used.
struct ConfigCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Print each setting and where it came from, then connect to the store.",
        discussion: """
            Settings come from flags, else the environment, else the config file, else the \
            defaults; each line names which. Passwords in store URLs print as ***; a store URL \
            that does not parse, or that its backend refuses (an unknown option, a missing TLS \
            file), prints as invalid, its problem in its row, and the check stops there (7). Then the \
            store is opened and its root namespace listed: the last line says what was reached \
            (backend, session, TTL, and whether the namespace exists: the check does not make \
            it), or the command fails with the usual one-line message and \
            exit status (9 when the store cannot be reached, 10 when it refuses the credentials, \
            7 for a bad setting). A line per host of the URL comes before it, each asked on its \
            own: on etcd its member, cluster, version and role (leader, follower, learner), on \
            ZooKeeper whether it answers as ZooKeeper, or else why it does not serve (a host \
            down is no failure: the handle goes on through the others). On etcd a member of \
            another cluster than the first one reached fails the check (7), before the handle \
            ever moves there (a ZooKeeper reply names no ensemble).

            Examples:
              coord config check
              COORD_STORE=etcd://127.0.0.1:2379/myapp coord config check
              coord --config ./coord.json config check
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions

    static func label(_ refinement: CoordConfiguration.Refinement) -> String {
        switch refinement {
        case .namespace: "namespace"
        case .sessionTtl: "session TTL"
        case .username: "username"
        case .password: "password"
        case .passwordFile: "password file"
        case .tlsCa: "TLS CA"
        case .tlsCert: "TLS certificate"
        case .tlsKey: "TLS key"
        }
    }

    func run() async throws {
        // The settings are printed before the URL is checked: they are what to look at when it is refused.
        let (configuration, logger) = try await CommandContext.resolve(global)
        // A URL that does not parse still leaves every other setting worth seeing: the table is
        // printed with the problem in the store's row, and the command fails as any other would.
        do {
            _ = try StoreURL(configuration.store.value)
        } catch {
            let problem = CoordCommandLine.oneLine(error.message)
            Self.writeRows(Self.rows(configuration, store: ("invalid", "\(configuration.store.source); refused: \(problem)"), unapplied: [:]))
            var named = error
            named.message += " (from \(configuration.store.source))"
            throw named
        }
        let context = try CommandContext.make(configuration, logger: logger, checksStoreURL: false)
        let storeSource = configuration.refinements.keys.allSatisfy { context.unapplied[$0] != nil }
            ? "\(configuration.store.source)" : "\(configuration.store.source), with what follows applied"
        // A URL that parses but that its backend refuses (an unknown option, a bare sessionTimeout
        // of 1000 or more, a TLS file that cannot be read) is refused in its row too: the row showed
        // it as if it were fine.
        if let refusal = context.storeURLRefusal() {
            let problem = CoordCommandLine.oneLine(refusal.problem)
            Self.writeRows(Self.rows(configuration, store: ("invalid", "\(storeSource); refused: \(problem)"), unapplied: context.unapplied))
            throw refusal.error  // on stderr, naming the setting that gave the URL's faulty part
        }
        let width = Self.writeRows(Self.rows(configuration, store: (context.storeURL.description, storeSource), unapplied: context.unapplied))
        // Opening a store under a namespace creates it: a check leaves the store as it was, and
        // a namespace that is not there is worth saying (a typo, most likely).
        let namespace = try await NamespaceRestorer.before(opening: context.storeURL, role: nil, logger: context.logger)
        let reached: String
        var endpoints: [EndpointReport] = []
        do {
            reached = try await context.withStore { store in
                endpoints = await (store as? any EndpointChecking)?.checkEndpoints() ?? []
                let children = try await store.children(of: .root)
                let session = store.session
                let backend = context.storeURL.scheme
                let sessionText = session.sessionID.isEmpty ? "" : ", session \(session.sessionID)"
                let path = context.storeURL.namespace.path
                let contents = namespace.missing.last == context.storeURL.namespace
                    ? "namespace \(path) does not exist (is it right?)"
                    : "namespace \(path) holds \(children.count) key\(children.count == 1 ? "" : "s") at its top"
                return "\(backend)\(sessionText), TTL \(DurationText.format(session.ttl)), " + contents
            }
        } catch {
            await namespace.restore(logger: context.logger)
            throw error
        }
        await namespace.restore(logger: context.logger)
        for report in endpoints {
            StandardStreams.writeLine("endpoint".padding(toLength: width + 2, withPad: " ", startingAt: 0) + Self.line(report))
        }
        // A member of another cluster is a setting to fix before the handle ever moves there.
        if case .foreign(let error)? = endpoints.first(where: { if case .foreign = $0.finding { true } else { false } })?.finding {
            throw error
        }
        StandardStreams.writeLine("connection".padding(toLength: width + 2, withPad: " ", startingAt: 0) + "ok: " + reached)
    }

    /// An endpoint's row: what answered there.
    static func line(_ report: EndpointReport) -> String {
        switch report.finding {
        case .serves(let what): "\(report.endpoint)  \(what)"
        case .unreachable(let why): "\(report.endpoint)  not serving: \(why)"
        // The error that follows names both clusters and the fix.
        case .foreign: "\(report.endpoint)  refused: a member of another cluster than the first one reached"
        }
    }

    /// Each setting's row: its name, its value (passwords as ***) and where it came from, with
    /// why it was not applied when it was not.
    /// - Parameter store: the store row's value and source, which depend on whether the URL parsed.
    static func rows(
        _ configuration: CoordConfiguration, store: (value: String, source: String), unapplied: [CoordConfiguration.Refinement: String]
    ) -> [(name: String, value: String, source: String)] {
        var rows: [(name: String, value: String, source: String)] = [
            ("config file", configuration.file ?? "none", configuration.file == nil ? configuration.fileChosenBy : "read, \(configuration.fileChosenBy)"),
            ("store", store.value, store.source),
            ("log level", configuration.logLevel.value.rawValue, "\(configuration.logLevel.source)"),
        ]
        for refinement in CoordConfiguration.Refinement.allCases {
            guard let setting = configuration.refinements[refinement] else { continue }
            let note = unapplied[refinement].map { "; not applied: " + $0 } ?? ""
            rows.append((label(refinement), refinement.isSecret ? "***" : setting.value, "\(setting.source)" + note))
        }
        return rows
    }

    /// Writes `rows` in aligned columns on stdout; returns the names' column width.
    @discardableResult
    static func writeRows(_ rows: [(name: String, value: String, source: String)]) -> Int {
        let width = rows.map(\.name.count).max() ?? 0
        let valueWidth = rows.map(\.value.count).max() ?? 0
        for (name, value, source) in rows {
            StandardStreams.writeLine(
                name.padding(toLength: width + 2, withPad: " ", startingAt: 0)
                    + value.padding(toLength: valueWidth + 2, withPad: " ", startingAt: 0) + "(\(source))")
        }
        return width
    }
}
