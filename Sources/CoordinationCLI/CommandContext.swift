import Coordination
import CoordinationEtcd
import CoordinationMemory
import CoordinationRecipes
import CoordinationZooKeeper
import Foundation
import Logging
import Synchronization

/// What a command needs to talk to a store: the resolved configuration, a logger on stderr and
/// the registry of backends. Built once per invocation, before any I/O.
struct CommandContext {
    /// Every backend `coord` knows; a new backend is one more entry.
    static let registry = StoreRegistry([.memory, .zookeeper, .etcd])

    let configuration: CoordConfiguration
    let logger: Logger
    let storeURL: StoreURL
    /// Why each setting given and left out of the store URL was left out (`coord config check` says).
    var unapplied: [CoordConfiguration.Refinement: String] = [:]

    /// Resolves the configuration and parses the store URL; no I/O beyond reading a config file.
    /// What the URL's backend would refuse before connecting (an unknown scheme or option, a bad
    /// TTL) is refused here too unless `checksStoreURL` is false, so that no input is read for nothing.
    /// - Parameter check: sees the resolved settings (with their sources) before the store URL is
    ///   parsed, for a command that refuses a setting it cannot honour.
    static func make(
        _ options: GlobalOptions, checking check: (CoordConfiguration) throws -> Void = { _ in }, checksStoreURL: Bool = true
    ) async throws -> CommandContext {
        let (configuration, logger) = try await resolve(options, checking: check)
        return try make(configuration, logger: logger, checksStoreURL: checksStoreURL)
    }

    /// ``make(_:checking:checksStoreURL:)`` for a configuration already resolved with
    /// ``resolve(_:checking:)``: parses and refines the store URL.
    static func make(_ configuration: CoordConfiguration, logger: Logger, checksStoreURL: Bool = true) throws -> CommandContext {
        let (storeURL, notes, unapplied) = try configuration.storeURLWithNotes()
        // One line each, as a failure is: a setting's value may hold a line break or an escape.
        for note in notes { StandardStreams.writeError("coord: note: " + CoordCommandLine.oneLine(note)) }
        let context = CommandContext(configuration: configuration, logger: logger, storeURL: storeURL, unapplied: unapplied)
        if checksStoreURL { try context.checkStoreURL() }
        logger.debug("configuration resolved", metadata: [
            "store": "\(storeURL)", "store.source": "\(configuration.store.source)",
            "config.file": "\(configuration.file ?? "none")",
        ])
        return context
    }

    /// What opening the store would refuse before connecting (an unknown scheme, option or
    /// password setting), refused now, saying where the URL came from.
    func checkStoreURL() throws {
        if let refusal = storeURLRefusal() { throw refusal.error }
    }

    /// Why opening the store would refuse its URL before connecting: the backend's own words,
    /// and the error that adds where the URL's faulty part came from; `nil` when it is accepted.
    func storeURLRefusal() -> (problem: String, error: CoordinationError)? {
        do {
            try Self.registry.check(storeURL)
            return nil
        } catch var error {
            let problem = error.message
            error.message += " (from \(source(ofProblem: problem)))"
            return (problem, error)
        }
    }

    /// Where the part of the store URL that `problem` is about came from: a TLS file that
    /// `--tls-ca`, `COORD_TLS_KEY`, a config file's `tlsCert`… put in the URL is that setting's
    /// (etcd's check names the option: `store URL option cacert=…`), anything else the URL's own.
    private func source(ofProblem problem: String) -> ConfigurationSource {
        let tlsSettings: [(CoordConfiguration.Refinement, option: String)] = [(.tlsCa, "cacert"), (.tlsCert, "cert"), (.tlsKey, "key")]
        for (refinement, option) in tlsSettings where problem.hasPrefix("store URL option \(option)=") {
            guard let setting = configuration.refinements[refinement], unapplied[refinement] == nil,
                storeURL.option(option) == setting.value
            else { continue }
            return setting.source
        }
        return configuration.store.source
    }

    /// The configuration and the logger, for a command that opens stores named otherwise
    /// (`coord migrate`, whose URLs it refines with
    /// ``CoordConfiguration/refine(stores:)``): the global store URL is not parsed.
    static func resolve(
        _ options: GlobalOptions, checking check: (CoordConfiguration) throws -> Void = { _ in }
    ) async throws -> (configuration: CoordConfiguration, logger: Logger) {
        // Before they are read: Foundation has already replaced each byte that is not UTF-8.
        if let problem = NonUTF8Environment.problem(in: NonUTF8Environment.processEnvironment) {
            throw CoordinationError(.invalidConfiguration, problem)
        }
        var configuration = try await CoordConfiguration.resolve(
            flags: options.flags,
            environment: ProcessInfo.processInfo.environment,
            currentDirectory: FileManager.default.currentDirectoryPath)
        try check(configuration)
        await configuration.readPasswordFileIfUsed()
        var logger = Logger(label: "coord")
        logger.logLevel = configuration.logLevel.value
        return (configuration, logger)
    }

    /// Opens the store, runs `body`, and closes the store whatever happens.
    /// - Parameter silence: where the body says it found the store silent; the close is then
    ///   not waited for (see ``StoreSilence``).
    func withStore<T>(closing silence: StoreSilence? = nil, _ body: (any CoordinationStore) async throws -> T) async throws -> T {
        do {
            return try await withOpenedStore(closing: silence, body)
        } catch var error as CoordinationError where error.code == .noNode && storeURL.scheme == "memory" {
            // A key written by an earlier coord command is not there: memory:// ended with it.
            error.message += " (note: \(Self.memoryKeysNote))"
            throw error
        }
    }

    /// ``withStore(_:)`` without its note on memory:// (the scheduler's commands have their own).
    func withOpenedStore<T>(closing silence: StoreSilence? = nil, _ body: (any CoordinationStore) async throws -> T) async throws -> T {
        try await withOpened(try await Self.registry.open(storeURL, logger: logger), closing: silence, body)
    }

    /// With no store configured, a lock, an election, a group or a watch is on memory://, this
    /// process's alone: `coord lock deploy -- ./deploy.sh` on a machine without COORD_STORE held
    /// a lock that kept no other process out, in silence. Said on stderr before the command runs
    /// (not when memory:// was chosen); `what` is what it does not do.
    func noteIfHeldInMemory(_ what: String) {
        guard storeURL.scheme == "memory", case .builtIn = configuration.store.source else { return }
        StandardStreams.writeError(
            "coord: note: no store is configured, so this runs on memory://, which lives in this coord process only: \(what); "
                + "give --store zookeeper://… or etcd://… (or COORD_STORE, or 'store' in a config file)")
    }

    /// What a watch (`kv watch`, `members --watch`) does not do on memory://: it would print an
    /// empty state and then nothing, ever.
    static let watchedInMemory = "no other process changes what it watches"

    /// Why a key written by an earlier command is missing on memory://, and what to use instead.
    static let memoryKeysNote =
        "memory:// lives in this coord process only, so every coord command starts with an empty store; "
        + "use --store zookeeper://… or etcd://… to keep keys between commands"

    /// ``withStore(_:)`` for a long-lived service (`coord worker`): a store that cannot be opened
    /// yet (the server down or still starting, its name not resolving yet, an etcd whose full
    /// database refuses new sessions until an operator frees space) is waited for, as a
    /// service started before its store should, trying again after a pause that grows to 10 s,
    /// with a warning each time. What waiting cannot cure (a bad URL, refused credentials) is
    /// thrown at once. SIGINT or SIGTERM while waiting ends the wait, and `body` is not run.
    func withStoreWaitingForServer(_ body: (any CoordinationStore) async throws -> Void) async throws {
        let opened = Mutex<(any CoordinationStore)?>(nil)
        let interrupted = try await Interruption.runUntilSignalled { [self] in
            var backoff = Backoff(first: .seconds(1), cap: .seconds(10))
            while true {
                do {
                    let store = try await Self.registry.open(storeURL, logger: logger)
                    opened.withLock { $0 = store }
                    return
                } catch let error as CoordinationError
                    where [.unavailable, .connectionLoss, .timeout].contains(error.code) && !Task.isCancelled
                {
                    logger.warning(
                        "cannot open the store yet; trying again in \(DurationText.format(backoff.next)) (SIGINT or SIGTERM stops)",
                        metadata: ["store": "\(storeURL)", "error": "\(error)"])
                    try await backoff.pause()
                }
            }
        }
        guard let store = opened.withLock({ $0 }) else { return }
        if interrupted {
            await store.close()
            return
        }
        try await withOpened(store, body)
    }

    private func withOpened<T>(
        _ store: any CoordinationStore, closing silence: StoreSilence? = nil, _ body: (any CoordinationStore) async throws -> T
    ) async throws -> T {
        func close() async {
            if let silence { await silence.close(store) } else { await store.close() }
        }
        do {
            let result = try await body(store)
            await close()
            return result
        } catch {
            await close()
            throw error
        }
    }
}
