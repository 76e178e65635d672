import Coordination
import CoordinationMemory
import Testing

/// ``SequenceCounterAdvancing`` refuses only the largest 10-digit number, which nothing follows:
/// a migration that copies a key numbered one below it must still carry the counter past it, so
/// that the next sequential key gets the last number instead of one the copy already holds.
@Suite struct SequenceCounterLastNumberTests {
    @Test func theCounterMovesPastTheLastNumberButOneAndTheNextKeyGetsTheLast() async throws {
        let store = try await MemoryServer().connect()
        defer { Task { await store.close() } }
        let parent = try Key("/q")
        _ = try await store.create(parent, value: [], mode: .persistent)
        let lastButOne = CoordinationLimits.maxSequenceNumber - 1
        #expect(try await store.advanceSequenceCounter(under: parent, past: lastButOne))
        let next = try await store.create(try Key("/q/n-"), value: [], mode: .sequential)
        #expect(next.key.name == "n-" + Key.sequenceSuffix(CoordinationLimits.maxSequenceNumber))
    }
}
