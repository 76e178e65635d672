import Coordination
import CoordinationScheduler

extension CommandContext {
    /// Opens the store and runs `body` with a scheduler client on it (the default layout, so
    /// that every coord process and every program using the library sees the same jobs).
    func withScheduler<T>(_ body: (Scheduler) async throws -> T) async throws -> T {
        try await withStore { store in try await body(Scheduler(store: store, logger: logger)) }
    }
}
