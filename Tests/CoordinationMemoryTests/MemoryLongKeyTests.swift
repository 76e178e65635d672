import Coordination
import CoordinationMemory
import Testing

/// The key limit counts only what users write; under a namespace the stored path is longer.
@Suite struct MemoryLongKeyTests {
    @Test func maximumLengthKeysWorkUnderANamespace() async throws {
        let server = MemoryServer()
        let store = try await server.connect(namespace: try Key("/a-long-enough-namespace"))
        defer { Task { await store.close() } }
        let segment = String(repeating: "k", count: 200)
        let longest = try Key("/" + Array(repeating: segment, count: 5).joined(separator: "/") + "/" + String(repeating: "z", count: 18))
        #expect(longest.path.utf8.count == CoordinationLimits.maxKeyBytes)
        _ = try await store.create(longest, value: [1])
        let walked = try await store.records(under: .root).map(\.key)
        #expect(walked.last == longest)
        #expect(walked.count == 6)

        var events = store.watch(.root, scope: .subtree).makeAsyncIterator()
        let snapshot = try await events.next()
        #expect(snapshot.map { if case .snapshot(let records) = $0 { records.count } else { -1 } } == 6)

        let prefix = try Key("/" + String(repeating: "q", count: CoordinationLimits.maxKeyBytes - 10))
        await #expect(throws: CoordinationError.self) { _ = try await store.create(prefix, value: [], mode: .sequential) }
        let fits = try Key("/" + String(repeating: "q", count: CoordinationLimits.maxKeyBytes - 11))
        let created = try await store.create(fits, value: [], mode: .sequential)
        #expect(created.key.path.utf8.count == CoordinationLimits.maxKeyBytes)
    }
}
