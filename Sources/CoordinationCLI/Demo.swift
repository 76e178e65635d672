import ArgumentParser
import Coordination
import Logging

/// `coord demo`: a short tour of what a coordination store does, on the embedded store.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Show what coord does, step by step, on the embedded store.",
        discussion: """
            Writes a few keys, guards a write with a version, builds a sequential queue, shows an \
            ephemeral key vanish when its session closes, runs a transaction that fails and names \
            the failing operation, and watches keys change, printing each step as it goes. It \
            always runs on the embedded store (\(Demo.storeURL)), so it needs no server and \
            leaves nothing behind.
            """)

    static let storeURL = "memory://coord-demo"

    @ParentCommand var root: Coord

    /// Checked first in `run()`, not in `validate()`, so that a bad value is coord's one line
    /// (status 64), as for every command's own options, not argument-parser's usage text.
    func checkOptions() throws {
        if root.global.store != nil {
            throw CommandLineProblem("coord demo always runs on the embedded store; leave out --store")
        }
    }

    func run() async throws {
        try checkOptions()
        var logger = Logger(label: "coord.demo")
        logger.logLevel = .warning
        let tour = DemoTour(registry: CommandContext.registry, url: Demo.storeURL, logger: logger)
        try await tour.run()
    }
}
