import Synchronization

/// Awaits `body` for at most `timeout`; past it, fails with a message naming `what` was awaited.
///
/// The body runs in its own task and is cancelled on timeout but not awaited, so that a backend
/// call that ignores cancellation cannot hang the suite.
func within<T: Sendable>(
    _ timeout: Duration, awaiting what: String, file: String = #fileID, line: Int = #line,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = OneShot<Result<T, any Error>>()
    let work = Task {
        do { outcome.deliver(.success(try await body())) } catch { outcome.deliver(.failure(error)) }
    }
    let timer = Task {
        // A guard, not synchronisation: it only fails the check.
        try? await Task.sleep(for: timeout)
        if !Task.isCancelled {
            outcome.deliver(.failure(failure("timed out after \(timeout) awaiting \(what)", file: file, line: line)))
        }
    }
    let result = await withTaskCancellationHandler {
        await outcome.value()
    } onCancel: {
        outcome.deliver(.failure(CancellationError()))
    }
    work.cancel()
    timer.cancel()
    return try result.get()
}

/// A value delivered once, by whichever producer comes first, to one waiter.
final class OneShot<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiter: CheckedContinuation<Value, Never>?
    }
    private let state = Mutex(State())

    func deliver(_ value: Value) {
        let waiter: CheckedContinuation<Value, Never>? = state.withLock { state in
            guard state.value == nil else { return nil }
            state.value = value
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: value)
    }

    func value() async -> Value {
        await withCheckedContinuation { continuation in
            let ready: Value? = state.withLock { state in
                if let value = state.value { return value }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
