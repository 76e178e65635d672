import Foundation

/// Runs blocking work (a C client's synchronous calls) on a thread of its own, never on the
/// cooperative pool, and awaits its result. For the package's own benchmark baselines and probes.
package enum OwnThread {
    package static func run<T: Sendable, Failure: Error>(
        _ body: @escaping @Sendable () throws(Failure) -> T
    ) async throws(Failure) -> T {
        let result: Result<T, Failure> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                do throws(Failure) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Runs `body` for each item in turn, on a thread of its own; the seconds each call took.
    package static func timeEach<Item: Sendable, Failure: Error>(
        _ items: [Item], _ body: @escaping @Sendable (Item) throws(Failure) -> Void
    ) async throws(Failure) -> [Double] {
        try await run { () throws(Failure) -> [Double] in
            let clock = ContinuousClock()
            var seconds: [Double] = []
            seconds.reserveCapacity(items.count)
            for item in items {
                let start = clock.now
                try body(item)
                let elapsed = clock.now - start
                seconds.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            }
            return seconds
        }
    }
}
