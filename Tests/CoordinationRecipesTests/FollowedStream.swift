import CoordinationTestSupport

/// A recipe's stream read in a task of its own, so that every wait for its next value is bounded
/// by a deadline (the stream's own iterator cannot be handed to the deadline's task).
///
/// A wait that times out ends the following: a test that met one has failed already.
final class FollowedStream<Element: Sendable>: Sendable {
    private let values: AsyncStream<Result<Element, any Error>>
    private let task: Task<Void, Never>

    init(_ stream: AsyncThrowingStream<Element, any Error>) {
        let (values, continuation) = AsyncStream<Result<Element, any Error>>.makeStream()
        self.values = values
        task = Task {
            do {
                for try await value in stream { continuation.yield(.success(value)) }
            } catch {
                continuation.yield(.failure(error))
            }
            continuation.finish()
        }
    }

    deinit { task.cancel() }

    /// The stream's next value, within the deadline; its error if it failed; `CancellationError`
    /// if it ended.
    func next(_ what: String) async throws -> Element {
        try await withDeadline(what) { [values] in
            var iterator = values.makeAsyncIterator()
            guard let value = await iterator.next() else { throw CancellationError() }
            return try value.get()
        }
    }
}
