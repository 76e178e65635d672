import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord migrate --batch-size`: how many keys go in one transaction, seen from the target's
/// revisions (every key a transaction creates gets the same createRevision, on either server).
@Suite("coord migrate --batch-size reaches the copy", .serverLoadLimit)
struct MigrateBatchSizeTests {
    @Test("--batch-size 1 writes each key in a transaction of its own; the default writes ten siblings in one", arguments: [TestBackend.zookeeper, .etcd])
    func transactionsPerKey(_ backend: TestBackend) async throws {
        let from = try TestHandles(backend, test: "batchSize-\(backend.name)-from")
        let single = try TestHandles(backend, test: "batchSize-\(backend.name)-single")
        let batched = try TestHandles(backend, test: "batchSize-\(backend.name)-batched")
        try await TestHandles.closing(from, single, batched) {
            let source = try await from.open()
            for i in 0..<10 { _ = try await source.create(try Key("/app/k\(i)"), value: [UInt8(i)]) }
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let fromURL = try #require(backend.url(from.namespace))
            // The distinct createRevisions of /app's children on `target` after a copy with `options`.
            func revisions(_ target: TestHandles, _ options: [String]) async throws -> Set<Int64> {
                let result = try await coord.run(["migrate", "--from", fromURL, "--to", try #require(backend.url(target.namespace))] + options)
                #expect(result.status == 0, "\(result.stderr)")
                let records = try await target.open().records(under: try Key("/app")).filter { $0.key.depth == 2 }
                #expect(records.count == 10)
                return Set(records.map(\.createRevision))
            }
            #expect(try await revisions(single, ["--batch-size", "1"]).count == 10)
            #expect(try await revisions(batched, []).count == 1)
        }
    }
}
