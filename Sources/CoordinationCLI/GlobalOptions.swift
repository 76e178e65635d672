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
            "A JSON config file (else COORD_CONFIG, else ./coord.json, else ~/.config/coord/config.json).",
            valueName: "path"))
    var config: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Log level on stderr: trace, debug, info, notice, warning, error, critical (default warning).",
            valueName: "level"))
    var logLevel: String?

    var flags: CoordConfiguration.Flags {
        CoordConfiguration.Flags(store: store, configFile: config, logLevel: logLevel)
    }
}
