import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord lock` and `coord elect` remove their key afterwards when nothing is queued under it,
/// but never a key that holds a value: that one is the user's. Removed anyway (mutant C35 of the
/// CLI audit), `coord lock /app/config -- …` deleted the user's data and every test passed.
@Suite("coord lock and elect leave a key that holds a value", .serverLoadLimit)
struct HeldKeyWithValueKeptTests {
    @Test("lock and elect on an existing key with a value keep the key and its value; an empty key of their own is removed", arguments: SchedulerProcessTests.servers)
    func valueBearingKeyIsKept(backend: TestBackend) async throws {
        try await CoordProcess.onFreshNamespace(of: backend) { store, url, coord in
            for subcommand in ["lock", "elect"] {
                let key = try Key("/app/\(subcommand)")
                _ = try await store.put(key, value: Array("keep".utf8))
                let held = try await coord.run(["--store", url, subcommand, key.path, "--", "echo", "ran"])
                #expect(held.status == 0 && held.stdoutText == "ran\n", "\(held.stderr)")
                #expect(try await store.get(key)?.value == Array("keep".utf8), "\(subcommand) removed a key holding a value")
                #expect(try await store.children(of: key).isEmpty, "\(subcommand) left its entry behind")
            }
            // The tidy-up itself still works: a name used once leaves no key.
            #expect(try await coord.run(["--store", url, "lock", "/app/fresh", "--", "true"]).status == 0)
            #expect(try await store.exists(Key("/app/fresh")) == false)
        }
    }
}
