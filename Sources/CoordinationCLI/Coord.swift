import ArgumentParser
import Coordination

/// The root `coord` command.
public struct Coord: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "coord",
            abstract: "Coordinate services through ZooKeeper, etcd or an embedded store, with the same behaviour on each.",
            discussion: """
                coord reads and writes a coordination store: a tree of keys (absolute paths such as \
                /app/config/color) whose values are bytes, with versions, ephemeral keys that vanish \
                with their session, sequential keys, transactions and watches. The store is chosen \
                by a URL; nothing else changes when it does.

                STORE URLS
                \(storeURLForms)
                  TIME is a duration: a number and a unit, ms, s, m, h or d (500ms, 5s, 2m; \
                a bare number is seconds). ttl and sessionTimeout are the session TTL, 1s to 1d, \
                10s by default; etcd's timeout is one request's limit, 10s by default.

                  memory:// is an embedded, in-process store: its data lives only \
                as long as the process, so each coord command starts with an empty store. Use it \
                to try things out (coord run, coord demo); use ZooKeeper or etcd to share data.

                CONFIGURATION (first found wins)
                  1. flags: --store URL, --log-level LEVEL
                  2. environment: COORD_STORE, COORD_LOG_LEVEL
                  3. a JSON config file: --config PATH, else COORD_CONFIG, else ./coord.json, \
                else $XDG_CONFIG_HOME/coord/config.json (~/.config/coord/config.json), for example
                     {"store": "zookeeper://127.0.0.1:2181/myapp", "logLevel": "info"}
                  4. defaults: memory://, warning
                --namespace, --session-ttl, --username, --password-file and --tls-ca/-cert/-key \
                (COORD_NAMESPACE, COORD_SESSION_TTL, …, COORD_PASSWORD; config keys namespace, \
                sessionTtl, …) refine the store URL in the same order. Credentials or TLS files \
                from the environment or a config file that the store cannot use are left out, \
                with a note. coord config check shows every setting with its source, then connects.
                Logs go to stderr; command output goes to stdout.

                EXIT STATUS
                \(ExitStatus.helpTable)
                A bad value of a command's own option or argument is a usage error (64), \
                except a malformed key or too large a value (kv get relative/key), which is 6; in a \
                global setting (option, environment or config file), a store URL or a jobs file \
                it is 7. lock, elect and members --join pass a SIGINT, SIGTERM or SIGHUP on to \
                their command and exit with its status.
                On failure coord prints exactly one line on stderr: "coord: <what is wrong>".

                EXAMPLES
                  coord run --until-idle
                  coord demo
                  coord --store zookeeper://127.0.0.1:2181/myapp kv put /config/color blue
                  export COORD_STORE=etcd://127.0.0.1:2379/myapp
                  coord kv get /config/color
                  coord kv tree /
                  coord job add backup --command ./backup.sh --cron '0 0 3 * * *'
                  coord worker --capacity 4
                  coord --store zookeeper://127.0.0.1:2181 lock deploy -- ./deploy.sh
                  coord migrate --from zookeeper://zk1:2181/app --to etcd://e1:2379/app --verify
                """,
            version: versionText,
            subcommands: [
                KV.self, LockCommand.self, ElectCommand.self, MembersCommand.self, RunCommand.self, JobCommand.self, JobsTable.self,
                RunsCommand.self, WorkersCommand.self, WorkerCommand.self, MigrateCommand.self, ConfigCommand.self, Demo.self,
                BenchCommand.self, LifelineCommand.self,
            ])
    }

    /// coord's own version.
    static let version = "0.1.0"

    /// What `coord --version` prints: coord's version, then each backend's schemes and the client
    /// library it was linked with, which a bug report about one backend needs.
    static var versionText: String {
        (["coord " + version] + CommandContext.registry.backends.compactMap { backend in
            backend.client.map { backend.schemes.map { $0 + "://" }.joined(separator: ", ") + " through " + $0 }
        }).joined(separator: "\n")
    }

    static var storeURLForms: String {
        CommandContext.registry.backends.map { backend in
            // Help is wrapped at 80 columns, which would break a long form at a random place:
            // break it before its query instead.
            let usage = backend.usage
            guard usage.count > 76, let query = usage.range(of: "[?", options: .backwards) else { return "  " + usage }
            return "  " + usage[..<query.lowerBound] + "\n      " + usage[query.lowerBound...]
        }.joined(separator: "\n")
    }

    @OptionGroup(title: "Global options")
    var global: GlobalOptions

    public init() {}
}
