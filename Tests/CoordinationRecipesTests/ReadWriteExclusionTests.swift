import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

@Suite(.serverLoadLimit) struct ReadWriteExclusionTests {
    /// A writer waits for the readers queued ahead of it, not only for writers: exclusive access
    /// means no reader holds the lock beside it. Readers ahead of it share the lock meanwhile.
    @Test(arguments: RecipeBackend.all)
    func aWriterWaitsForTheReadersAheadOfIt(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/rw-exclusion")
        let readers = ReadWriteLock(store: try await handles.open(), path: path)
        let first = try #require(try await readers.acquireRead())
        let second = try #require(try await readers.acquireRead(timeout: .zero), "readers share the lock")
        let writers = ReadWriteLock(store: try await handles.open(), path: path)
        #expect(try await writers.acquireWrite(timeout: .milliseconds(300)) == nil, "two readers hold the lock")

        let writer = Task { try #require(try await writers.acquireWrite()) }
        try await first.release()
        try await second.release()
        let lease = try await outcome(of: writer, "the writer once the readers are gone").get()
        #expect(lease.token > second.token)
        try await lease.release()
    }
}
