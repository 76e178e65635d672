import Coordination
import Logging

/// Opening a handle creates its namespace's keys (a ZooKeeper prefix, etcd's chain of empty keys).
/// A migration that wrote nothing (a dry run, a refused or failed run, the source, which is only
/// read) must leave a store as it found it: this notes, through a handle on the root, which of
/// those keys were missing before the open, and removes afterwards the ones still empty.
struct NamespaceRestorer: Sendable {
    /// A handle on the store's root; `nil` when nothing needs watching (or it could not be opened).
    private let root: (any CoordinationStore)?
    /// The namespace keys that did not exist, outermost first.
    let missing: [Key]

    /// Looks before `url` is opened. Without a namespace, or in memory (gone with the process),
    /// there is nothing to do; a root handle that cannot be read (a user limited to a prefix)
    /// leaves things as they were before this existed.
    /// - Throws: what opening the `role` store (`source`, `target`) will fail with too (no server
    ///   answering, refused credentials), so that an unreachable store is waited for once; named
    ///   by its role, or as the backend words it when `role` is `nil` (a command with one store).
    static func before(opening url: StoreURL, role: String?, logger: Logger) async throws -> NamespaceRestorer {
        guard url.scheme != "memory", !url.namespace.isRoot else { return NamespaceRestorer(root: nil, missing: []) }
        var rootURL = url
        rootURL.namespace = .root
        // What the backend warns of when opening (etcd without auth ignoring a user) is said
        // once, by the migration's own handle.
        var rootLogger = logger
        if rootLogger.logLevel > .debug { rootLogger.logLevel = .error }
        let root: any CoordinationStore
        do {
            root = try await CommandContext.registry.open(rootURL, logger: rootLogger)
        } catch let error as CoordinationError where Self.failsEveryOpen(error.code) {
            throw role.map { MigrateCommand.openFailure(error, url: url, role: $0) } ?? error
        } catch {
            return NamespaceRestorer(root: nil, missing: [])
        }
        var missing: [Key] = []
        do {
            // Each level asked on its own: on etcd a key can exist below a missing one (another
            // tool deleted the ancestor), and that key must not be taken for one this run made.
            for key in url.namespace.ancestors + [url.namespace] where try await !root.exists(key) {
                missing.append(key)
            }
        } catch {
            logger.debug("cannot tell whether the namespace exists", metadata: ["url": "\(url)", "error": "\(error)"])
            await root.close()
            return NamespaceRestorer(root: nil, missing: [])
        }
        if missing.isEmpty {
            await root.close()
            return NamespaceRestorer(root: nil, missing: [])
        }
        return NamespaceRestorer(root: root, missing: missing)
    }

    /// Failures of opening a root handle that opening the namespace's would meet as well.
    static func failsEveryOpen(_ code: CoordinationError.Code) -> Bool {
        [.connectionLoss, .timeout, .unavailable, .sessionExpired, .unauthenticated, .invalidConfiguration].contains(code)
    }

    /// Removes, deepest first, the keys this run created that are still empty (no value, no
    /// children), each only at the version read, so that nothing someone else wrote meanwhile
    /// goes; stops at the first that must stay. Call after the migration's handle is closed.
    /// Not cut short by cancellation (a Ctrl-C is when it matters most): it runs in a task of
    /// its own.
    func restore(logger: Logger) async {
        await Task { await restoreNow(logger: logger) }.value
    }

    private func restoreNow(logger: Logger) async {
        guard let root else { return }
        for key in missing.reversed() {
            do {
                guard let record = try await root.get(key), record.value.isEmpty, !record.isEphemeral,
                    try await root.children(of: key).isEmpty
                else { break }
                try await root.delete(key, ifVersion: record.version, recursive: false)
            } catch {
                logger.debug("a namespace key made by opening the store stays", metadata: ["key": "\(key)", "error": "\(error)"])
                break
            }
        }
        await root.close()
    }
}
