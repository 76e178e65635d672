import Coordination
import CoordinationMemory
import Testing

/// The protocol extension's shorthands each reach the requirement with the right arguments.
@Suite struct ConvenienceTests {
    @Test("delete(_:recursive:) deletes a subtree whatever its versions; delete(_:) refuses one with children")
    func recursiveDelete() async throws {
        let store = try await MemoryServer().connect()
        defer { Task { await store.close() } }
        _ = try await store.create(Key("/queue/a"), string: "1")
        _ = try await store.set(Key("/queue/a"), string: "2")
        await #expect(throws: CoordinationError.self) { try await store.delete(Key("/queue")) }
        try await store.delete(Key("/queue"), recursive: true)
        #expect(try await !store.exists(Key("/queue")))
    }
}
