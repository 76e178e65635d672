import Coordination

/// Watch delivery latency: `watchers` watches on one key of one handle, and `writes` sets of that
/// key, each timed from just before the set until each watcher has its event. One write at a
/// time (the next waits for every delivery, or for `patience`), so no event hides another.
struct BenchWatchers: Sendable {
    let store: any CoordinationStore
    let watchers: Int
    let writes: Int
    var patience: Duration = .seconds(10)

    struct Result: Sendable {
        var latencies: LatencySamples
        /// Deliveries that did not arrive within `patience` of their write.
        var missing: Int
    }

    func run() async throws -> Result {
        let key = try Key("/coord-watch")
        _ = try await store.put(key, value: Array("0".utf8))
        let collector = DeliveryCollector(watchers: watchers)
        let store = self.store
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<watchers {
                group.addTask {
                    for try await event in store.watch(key) {
                        switch event {
                        case .snapshot: await collector.watcherReady()
                        case .put(let record):
                            if let write = Int(String(decoding: record.value, as: UTF8.self)) { await collector.delivered(write) }
                        case .delete: break
                        }
                    }
                }
            }
            await collector.waitUntilReady()
            let clock = ContinuousClock()
            for write in 1...writes {
                await collector.starting(write, at: clock.now)
                _ = try await store.set(key, value: Array(String(write).utf8), ifVersion: nil)
                await collector.waitForDeliveries(of: write, patience: patience)
            }
            group.cancelAll()
            return await collector.result()
        }
    }
}

/// Where the watchers report; the writer waits here for the deliveries of each write.
private actor DeliveryCollector {
    let watchers: Int
    private var ready = 0
    private var readyWaiters: [CheckedContinuation<Void, Never>] = []
    private var current = 0
    private var started = ContinuousClock.now
    private var deliveredNow = 0
    private var allDelivered: CheckedContinuation<Void, Never>?
    private var seconds: [Double] = []
    private var missing = 0

    init(watchers: Int) { self.watchers = watchers }

    func watcherReady() {
        ready += 1
        if ready == watchers {
            for waiter in readyWaiters { waiter.resume() }
            readyWaiters = []
        }
    }

    func waitUntilReady() async {
        if ready >= watchers { return }
        await withCheckedContinuation { readyWaiters.append($0) }
    }

    func starting(_ write: Int, at instant: ContinuousClock.Instant) {
        current = write
        started = instant
        deliveredNow = 0
    }

    func delivered(_ write: Int) {
        guard write == current else { return }  // late, after its write was given up on
        seconds.append((ContinuousClock.now - started).seconds)
        deliveredNow += 1
        if deliveredNow == watchers {
            allDelivered?.resume()
            allDelivered = nil
        }
    }

    func waitForDeliveries(of write: Int, patience: Duration) async {
        if deliveredNow < watchers {
            let limit = Task {
                try? await Task.sleep(for: patience)
                self.giveUp(on: write)
            }
            await withCheckedContinuation { allDelivered = $0 }
            limit.cancel()
        }
        missing += watchers - deliveredNow
        current = 0
    }

    private func giveUp(on write: Int) {
        guard write == current else { return }
        allDelivered?.resume()
        allDelivered = nil
    }

    func result() -> BenchWatchers.Result {
        BenchWatchers.Result(latencies: LatencySamples(seconds: seconds), missing: missing)
    }
}
