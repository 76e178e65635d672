import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// A join's create whose reply was lost, not found by its search, may land after the lease was
/// released or the acquisition gave up (etcd may apply a write after reporting it lost). Nobody
/// looked for it then: it stayed first in line for nobody, and every later contender waited for
/// it for as long as the session lived. The release (the give-up) now removes it as it appears.
@Suite(.serverLoadLimit) struct LateEntryAfterReleaseTests {
    /// The recipes whose leases are released here, each through its own entry point.
    enum Released: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case lock, withLock, permit, read, write, campaign
        var testDescription: String { rawValue }

        /// Acquires through `store` (which loses the first create's reply) and releases.
        func acquireAndRelease(_ store: any CoordinationStore, _ path: Key) async throws {
            let lease: LockLease?
            switch self {
            case .lock: lease = try await Lock(store: store, path: path).acquire(timeout: .seconds(10))
            case .withLock:
                try await Lock(store: store, path: path).withLock(timeout: .seconds(10)) { _ in }
                return
            case .permit: lease = try await Semaphore(store: store, path: path, permits: 1).acquire(timeout: .seconds(10))
            case .read: lease = try await ReadWriteLock(store: store, path: path).acquireRead(timeout: .seconds(10))
            case .write: lease = try await ReadWriteLock(store: store, path: path).acquireWrite(timeout: .seconds(10))
            case .campaign: lease = try await LeaderElection(store: store, path: path, identity: "a").campaign(timeout: .seconds(10))
            }
            try await #require(lease, "the lock is free").release()
        }

        /// Acquires on `store`, taking what this kind excludes.
        func acquire(_ store: any CoordinationStore, _ path: Key, timeout: Duration) async throws -> LockLease? {
            switch self {
            case .lock, .withLock: try await Lock(store: store, path: path).acquire(timeout: timeout)
            case .permit: try await Semaphore(store: store, path: path, permits: 1).acquire(timeout: timeout)
            case .read, .write: try await ReadWriteLock(store: store, path: path).acquireWrite(timeout: timeout)
            case .campaign: try await LeaderElection(store: store, path: path, identity: "b").campaign(timeout: timeout)
            }
        }
    }

    @Test(arguments: RecipeBackend.all, Released.allCases)
    func aJoinsEntryLandingAfterTheReleaseIsRemoved(backend: RecipeBackend, kind: Released) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/late-after-release")
        let observer = try await handles.open()
        let late = CreateLandingLate(try await handles.open())

        try await kind.acquireAndRelease(late, path)
        let stray = try await late.land()
        try await withDeadline("the late entry \(stray.key.name) to be removed", limit: .seconds(10)) {
            try await waitForEntries(observer, path, "no entry under \(path)") { $0.isEmpty }
        }
        let next = try await kind.acquire(observer, path, timeout: .zero)
        #expect(next != nil, "free again")
        try await next?.release()
    }

    @Test(arguments: RecipeBackend.all)
    func aJoinsEntryLandingAfterTheAcquisitionGaveUpIsRemoved(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/late-after-give-up")
        let observer = try await handles.open()
        let holder = try #require(try await Lock(store: observer, path: path).acquire(timeout: .zero), "the lock is free")
        let late = CreateLandingLate(try await handles.open())

        let refused = try await Lock(store: late, path: path).acquire(timeout: .zero)
        #expect(refused == nil, "the lock is held")
        let stray = try await late.land()
        try await withDeadline("the late entry \(stray.key.name) to be removed", limit: .seconds(10)) {
            try await waitForEntries(observer, path, "the holder's entry alone") { $0 == [holder.key.name] }
        }
        try await holder.release()
        let next = try await Lock(store: observer, path: path).acquire(timeout: .zero)
        #expect(next != nil, "free again")
        try await next?.release()
    }
}
