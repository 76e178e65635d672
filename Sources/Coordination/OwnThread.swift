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
}
