import Coordination
import CoordinationTestSupport

/// A recipe stream (a watch, an observer) ended while a test still waited on it for `what`.
struct StreamEnded: Error, CustomStringConvertible {
    let what: String
    var description: String { "the stream ended while waiting for \(what)" }
}

/// The next element of `stream`, failing after the deadline (naming `what`) rather than hanging
/// when the event it waits for is lost, and failing if the stream ends first.
///
/// The stream, not an iterator, is passed: an iterator cannot go into the deadline's task. Each
/// call iterates the same stream anew, so calls must not overlap (an `AsyncThrowingStream` has one
/// consumer at a time).
func next<T: Sendable>(
    _ stream: AsyncThrowingStream<T, any Error>, _ what: String, limit: Duration = .seconds(30)
) async throws -> T {
    try await withDeadline(what, limit: limit) {
        var iterator = stream.makeAsyncIterator()
        guard let value = try await iterator.next() else { throw StreamEnded(what: what) }
        return value
    }
}

/// The first element of `stream` that `wanted` accepts, skipping the others, failing after the
/// deadline (naming `what`) or if the stream ends first.
func nextMatching<T: Sendable>(
    _ stream: AsyncThrowingStream<T, any Error>, _ what: String, limit: Duration = .seconds(30),
    where wanted: @escaping @Sendable (T) -> Bool
) async throws -> T {
    try await withDeadline(what, limit: limit) {
        for try await value in stream where wanted(value) { return value }
        throw StreamEnded(what: what)
    }
}
