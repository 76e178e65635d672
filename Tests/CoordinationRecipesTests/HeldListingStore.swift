import Coordination
import CoordinationTestSupport

/// Wraps a store so that its first children listing is made at once but answered only after
/// ``answer()``: a reply on its way back while its caller is cancelled. ``listings`` counts the
/// listings begun.
final class HeldListingStore: ForwardingStore {
    let base: any CoordinationStore
    let listings = Broadcast(0)
    private let answered = Broadcast(false)

    init(_ base: any CoordinationStore) { self.base = base }

    /// Lets the held listing answer.
    func answer() { answered.send(true) }

    func children(of key: Key) async throws -> [String] {
        var first = false
        listings.update { count in
            count += 1
            first = count == 1
        }
        let names = try await base.children(of: key)
        if first {
            let answered = answered
            // Not the caller's task: a cancelled caller still waits for the answer, as it would
            // for a real reply.
            await Task { for await done in answered.subscribe() where done { return } }.value
        }
        return names
    }
}
