import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord lock` and `coord elect` release as the library's `withLock` does: with the lease's own
/// entry go the join's late-landing ones (a create whose reply was lost, landing behind it).
@Suite(.serverLoadLimit) struct HeldReleaseTests {
    /// coord removed only its own entry: a late entry of its join stayed behind it in the queue,
    /// and blocked everyone who queued after it for as long as coord's session lived.
    @Test(
        "coord lock and coord elect remove their join's late-landing entries when they release",
        arguments: ["lock", "elect"], RecipeAcceptanceTests.servers)
    func releaseRemovesLateEntries(subcommand: String, backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            let store = try await handles.open()
            let url = try #require(backend.url(handles.namespace, ttl: .seconds(10)))
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("coord-late-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let done = folder.appendingPathComponent("done").path
            let key = try Key("/held-late")
            let holder = try await LineProcess(
                CoordProcess.binary.path,
                ["--store", url, subcommand, key.description, "--", "sh", "-c", "echo ready; while [ ! -e '\(done)' ]; do sleep 0.05; done"])
            defer { holder.stop() }
            #expect(try await holder.nextLine(within: .seconds(20)) == "ready")
            // What a create of the same join whose reply was lost leaves: an entry with the
            // holder's name stem (prefix and marker), sequenced after the holder's.
            let entries = try await store.children(of: key)
            let held = try #require(entries.first, "no entry under \(key)")
            #expect(entries.count == 1, "\(entries)")
            let stem = String(held.dropLast(CoordinationLimits.sequenceDigits))
            let late = try await store.create(key.child(stem), mode: .ephemeralSequential)
            #expect(late.key.name.hasPrefix(stem) && late.key.name > held)
            #expect(FileManager.default.createFile(atPath: done, contents: nil))
            #expect(try await holder.exitStatus(within: .seconds(20)) == 0)
            let left = (try? await store.children(of: key)) ?? []
            #expect(left.isEmpty, "left behind under \(key): \(left)")
        }
    }
}
