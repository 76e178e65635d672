import Coordination
import CoordinationScheduler

extension CommandContext {
    /// Opens the store and runs `body` with a scheduler client on it (the default layout, so
    /// that every coord process and every program using the library sees the same jobs).
    ///
    /// On memory:// these commands act on a store of their own that ends with them (a job
    /// added is gone at once, a job of another process is never there), so they say so: after
    /// their output, or in their one line of failure.
    func withScheduler<T>(_ body: (Scheduler) async throws -> T) async throws -> T {
        guard storeURL.scheme == "memory" else {
            return try await withOpenedStore { store in try await body(Scheduler(store: store, logger: logger)) }
        }
        do {
            let result = try await withOpenedStore { store in try await body(Scheduler(store: store, logger: logger)) }
            StandardStreams.writeError("coord: note: " + Self.memoryNote)
            return result
        } catch var error as CoordinationError {
            error.message += " (note: \(Self.memoryNote))"
            throw error
        }
    }

    /// Why a command about shared jobs does little on memory://, and what to use instead.
    static let memoryNote =
        "memory:// lives in this coord process only, so it started empty and is gone now; "
        + "use --store zookeeper://… or etcd://… to share jobs between processes, or coord run to run them here"
}
