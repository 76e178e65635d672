import Coordination
import CoordinationMemory
import Logging
import Testing

/// `memory://NAME` names one in-process store: a list of names, as a server scheme lists hosts,
/// is refused before anything opens, instead of quietly opening the first.
@Suite struct MemoryURLNameTests {
    @Test func aURLNamingTwoMemoryStoresIsRefused() async throws {
        let url = try StoreURL("memory://one,two")
        let check = try #require(StoreBackend.memory.check)
        let checked = #expect(throws: CoordinationError.self) { try check(url) }
        #expect(checked?.code == .invalidConfiguration)
        #expect(checked?.message.contains("at most one store name") == true, "\(checked?.message ?? "")")
        let opened = await #expect(throws: CoordinationError.self) {
            let store = try await StoreBackend.memory.open(url, Logger(label: "test"))
            await store.close()
        }
        #expect(opened?.code == .invalidConfiguration)
    }
}
