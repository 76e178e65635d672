import Coordination

/// Runs `body`, failing with `CoordinationError(.timeout)` naming what was awaited instead of
/// hanging the test run.
///
/// The deadline cancels `body` and returns once `body` has ended, so `body` must end when
/// cancelled: a wait that ignores cancellation (a `Task`'s `value` or `result`, a checked
/// continuation) outlasts the deadline. Await such a task in a way that cancels it with the
/// deadline (as the recipe tests' `outcome(of:_:)` does).
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
