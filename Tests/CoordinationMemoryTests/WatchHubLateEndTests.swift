import Synchronization
import Testing

@testable import Coordination

/// A shared watch whose last subscriber left ends late (its underlying watch answers its
/// cancellation only later): by then a new subscriber may have started the topic's next shared
/// watch, which that late end must leave alone.
@Suite(.timeLimit(.minutes(1))) struct WatchHubLateEndTests {
    /// Opens once; a waiter does not give up when its task is cancelled, as an underlying watch
    /// blocked in a server call does not.
    final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        func wait() async {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.open { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }

        func open() {
            let waiters = state.withLock { state in
                state.open = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    @Test func anOldWatchEndingLateLeavesTheNewSubscriberWatching() async throws {
        let (ended, pumpEnded) = AsyncStream<Void>.makeStream()
        let hub = WatchHub(pumpEnded: { pumpEnded.yield() })
        let key = try Key("/w")
        let record = Record(key: key, value: [1], version: 0, createRevision: 1, modRevision: 1, isEphemeral: false)

        // The first shared watch: a snapshot, then it ends only once the gate opens.
        let gate = Gate()
        let calls = Mutex(0)
        let oldSource = WatchHub.Stream(unfolding: {
            if calls.withLock({ $0 += 1; return $0 }) == 1 { return .snapshot([]) }
            await gate.wait()
            return nil
        })
        let (snapshots, snapshot) = AsyncStream<WatchEvent>.makeStream()
        let first = Task {
            for try await event in hub.watch(key, scope: .key, source: { oldSource }) { snapshot.yield(event) }
        }
        var firstEvents = snapshots.makeAsyncIterator()
        #expect(await firstEvents.next() == .snapshot([]))
        // Its only subscriber goes: the hub drops the topic and cancels the pump, which waits at
        // the gate.
        first.cancel()
        _ = await first.result

        let (newSource, newEvents) = WatchHub.Stream.makeStream()
        var second = hub.watch(key, scope: .key) { newSource }.makeAsyncIterator()
        newEvents.yield(.snapshot([]))
        #expect(try await second.next() == .snapshot([]))

        gate.open()
        var pumps = ended.makeAsyncIterator()
        await pumps.next()
        newEvents.yield(.put(record))
        #expect(try await second.next() == .put(record), "the old watch's end finished the new subscriber's stream")
        newEvents.finish()
    }
}
