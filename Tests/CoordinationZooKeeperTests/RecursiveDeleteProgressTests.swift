import Coordination
@testable import CoordinationZooKeeper
import CoordinationTestSupport
import Synchronization
import Testing

/// A recursive delete of a large tree tells how far it has got: listed, then after each batch.
@Suite(.enabled(if: ZooKeeperTestEnvironment.runServerTests, ZooKeeperTestEnvironment.skipReason), .serverLoadLimit)
struct RecursiveDeleteProgressTests {
    @Test func aLargeDeleteReportsItsListingAndEachBatch() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            let top = try Key("/progress")
            // 10 folders of 110 keys: 1,111 znodes with the top, three batches of 512 and the rest.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for folder in 0..<10 {
                    group.addTask {
                        for index in 0..<110 { _ = try await store.create(try Key("/progress/d\(folder)/k\(index)"), value: []) }
                    }
                }
                try await group.waitForAll()
            }
            let reports = Mutex<[RecursiveDeleteProgress]>([])
            try await store.deleteRecursively(top, ifVersion: nil) { progress in reports.withLock { $0.append(progress) } }
            let seen = reports.withLock { $0 }
            #expect(seen.map(\.deleted) == [0, 512, 1024, 1111], "\(seen)")
            #expect(seen.allSatisfy { $0.total == 1111 }, "\(seen)")
            #expect(try await store.get(top) == nil)
            #expect(try await store.children(of: .root).contains("progress") == false)
        }
    }
}
