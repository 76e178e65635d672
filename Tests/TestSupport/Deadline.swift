import Coordination

/// Runs `body`, failing with `CoordinationError(.timeout)` naming what was awaited instead of
/// hanging the test run.
public func withDeadline<T: Sendable>(
    _ what: String, limit: Duration = .seconds(30), _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let value = try await group.next() ?? nil else {
            throw CoordinationError(.timeout, "timed out after \(limit) waiting for \(what)")
        }
        return value
    }
}
