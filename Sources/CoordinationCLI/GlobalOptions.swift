import ArgumentParser

/// The options every command that touches a store accepts, before or after the command name.
/// None has a default here: a default would hide the environment and the config file.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The store URL (else COORD_STORE, else the config file's 'store', else memory://).",
            valueName: "url"))
    var store: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A JSON config file (else COORD_CONFIG, else ./coord.json, else $XDG_CONFIG_HOME/coord/config.json, ~/.config/coord/config.json without it).",
            valueName: "path"))
    var config: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Log level on stderr: trace, debug, info, notice, warning, error, critical (default warning).",
            valueName: "level"))
    var logLevel: String?

    @Option(name: .long, help: ArgumentHelp("The namespace, instead of the URL's path (else COORD_NAMESPACE, else the config file's 'namespace').", valueName: "key"))
    var namespace: String?

    // Unconditional: `--session-ttl -5s` took -5s for an option, and the hint to write
    // --session-ttl=-5s only led to a second refusal; now the value itself is refused, naming the range.
    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp("The session TTL, 1s to 1d, such as 5s (else COORD_SESSION_TTL, else 'sessionTtl'; 10s by default).", valueName: "duration"))
    var sessionTtl: String?

    @Option(name: .long, help: ArgumentHelp("The user for ZooKeeper digest or etcd auth (else COORD_USERNAME, else 'username').", valueName: "name"))
    var username: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A file holding the password (else COORD_PASSWORD_FILE, else 'passwordFile'; COORD_PASSWORD gives it directly). No flag takes the password itself: command lines are visible to every user.",
            valueName: "path"))
    var passwordFile: String?

    @Option(name: .long, help: ArgumentHelp("CA certificate for etcds:// (else COORD_TLS_CA, else 'tlsCa').", valueName: "path"))
    var tlsCa: String?

    @Option(name: .long, help: ArgumentHelp("Client certificate for etcds:// (else COORD_TLS_CERT, else 'tlsCert').", valueName: "path"))
    var tlsCert: String?

    @Option(name: .long, help: ArgumentHelp("Client key for etcds:// (else COORD_TLS_KEY, else 'tlsKey').", valueName: "path"))
    var tlsKey: String?

    var flags: CoordConfiguration.Flags {
        var refinements: [CoordConfiguration.Refinement: String] = [:]
        refinements[.namespace] = namespace
        refinements[.sessionTtl] = sessionTtl
        refinements[.username] = username
        refinements[.passwordFile] = passwordFile
        refinements[.tlsCa] = tlsCa
        refinements[.tlsCert] = tlsCert
        refinements[.tlsKey] = tlsKey
        return CoordConfiguration.Flags(store: store, configFile: config, logLevel: logLevel, refinements: refinements)
    }
}
