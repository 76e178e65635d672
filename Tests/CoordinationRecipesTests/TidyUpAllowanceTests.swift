import Coordination
@testable import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// An acquisition giving up tidies up (removes its entry) within a ``TidyUpAllowance`` it can
/// share with the caller's own tidy-up: a store silent for the allowance is noted silent there,
/// and a store already found silent is not waited for again. Each step used to allow a silent
/// store a second of its own: `coord lock --timeout 3s` exited 2 s after giving up (its entry,
/// then the lock's key).
@Suite(.serverLoadLimit) struct TidyUpAllowanceTests {
    /// Its entry's delete never answered: the acquisition returns once the allowance has gone
    /// unanswered, noting the store silent for whatever the caller tidies next.
    @Test func anAcquisitionGivingUpOnASilentStoreNotesItSilent() async throws {
        let handles = try Handles(.memory)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/silent-removal")
        let holder = try #require(try await Lock(store: try await handles.open(), path: path).acquire(timeout: .zero))
        let silent = DelayedDeletes(try await handles.open(), answeringAfter: nil)
        let tidyUp = TidyUpAllowance(limit: .milliseconds(300))

        let attempt = Task { try await Lock(store: silent, path: path).acquire(timeout: .milliseconds(100), tidyingUp: tidyUp) }
        let result = await FirstAnswer.within(.seconds(20)) { await attempt.result }
        #expect(try #require(result, "the acquisition returned").get() == nil, "not acquired")
        #expect(tidyUp.storeFoundSilent, "its removal's silence is noted for the steps after it")
        #expect(silent.deletesAsked.count == 1, "its entry's removal was asked for: \(silent.deletesAsked)")
        #expect(silent.deletesAsked.first != holder.key, "of its own entry")
    }

    /// An allowance already found silent (by an earlier step, or the caller) is not waited for
    /// again, however long its limit: the acquisition returns at its timeout and its entry's
    /// removal goes on by itself.
    @Test func anAcquisitionGivingUpAfterTheStoreWasFoundSilentDoesNotWaitForIt() async throws {
        let handles = try Handles(.memory)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/known-silent")
        _ = try #require(try await Lock(store: try await handles.open(), path: path).acquire(timeout: .zero))
        let silent = DelayedDeletes(try await handles.open(), answeringAfter: nil)
        let tidyUp = TidyUpAllowance(limit: .seconds(3600))
        tidyUp.noteStoreSilent()

        let attempt = Task { try await Lock(store: silent, path: path).acquire(timeout: .milliseconds(100), tidyingUp: tidyUp) }
        // Not through a deadline that cancels: the wait for the removal does not heed it.
        let result = await FirstAnswer.within(.seconds(20)) { await attempt.result }
        #expect(try #require(result, "the acquisition returned without waiting out the allowance").get() == nil)
        // The removal goes on by itself, and may be asked for only after the acquisition returned.
        let asked = await FirstAnswer.within(.seconds(20)) { await silent.deleteRequests.first { _ in true } } ?? nil
        #expect(asked != nil, "its entry's removal was still asked for")
        #expect(silent.deletesAsked.count == 1, "one removal: \(silent.deletesAsked)")
    }

    /// A store that answers, however slowly, is waited for: the entry is gone when the
    /// acquisition returns, and the store is not taken for silent.
    @Test func anAcquisitionGivingUpOnASlowStoreRemovesItsEntryFirst() async throws {
        let handles = try Handles(.memory)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/slow-removal")
        let observer = try await handles.open()
        let holder = try #require(try await Lock(store: observer, path: path).acquire(timeout: .zero))
        let slow = DelayedDeletes(try await handles.open(), answeringAfter: .milliseconds(400))
        let tidyUp = TidyUpAllowance()

        let attempt = Task { try await Lock(store: slow, path: path).acquire(timeout: .milliseconds(100), tidyingUp: tidyUp) }
        #expect(try await outcome(of: attempt, "the acquisition to give up").get() == nil)
        #expect(!tidyUp.storeFoundSilent, "a store that answers is not silent")
        #expect(try await observer.children(of: path) == [holder.key.name], "its entry was removed before it returned")
    }
}
