import Coordination
import Testing

/// Clause 9 for a server that accepts connections but stops answering (SIGSTOP, a hung
/// process): a read and a write of `key`, sent at once while the server is frozen by `freeze`,
/// both fail with `timeout`, saying the server did not answer in time, what that means for the
/// operation and what to check; `thaw` then runs. One set of assertions for every backend, so
/// that the same situation is held to the same code and words.
public func expectFrozenServerTimesOut(
    _ store: some CoordinationStore, key: Key, freeze: () -> Void, thaw: () -> Void, sourceLocation: SourceLocation = #_sourceLocation
) async {
    freeze()
    // At once, so that the server stays frozen for one request timeout, not two.
    async let read = caught { _ = try await store.get(key) }
    async let write = caught { _ = try await store.set(key, value: [2], ifVersion: nil) }
    let errors = await [("read", read, "nothing was read"), ("write", write, "a write's outcome is unknown")]
    thaw()
    for (what, error, consequence) in errors {
        #expect(error?.code == .timeout, "the \(what) on a frozen server: \(String(describing: error))", sourceLocation: sourceLocation)
        for words in ["did not answer in time", consequence, "is the server overloaded or stopped?"] {
            #expect(
                error?.message.contains(words) == true, "the \(what)'s message must say \"\(words)\": \(String(describing: error))",
                sourceLocation: sourceLocation)
        }
    }
}

/// The `CoordinationError` `body` threw, `nil` if it returned.
private func caught(_ body: () async throws -> Void) async -> CoordinationError? {
    do {
        try await body()
        return nil
    } catch let error as CoordinationError {
        return error
    } catch {
        return CoordinationError(.unsupported, "not a CoordinationError: \(error)")
    }
}
