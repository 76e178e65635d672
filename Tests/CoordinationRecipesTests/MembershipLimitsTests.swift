import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// What a member cannot be is refused before any I/O, naming the problem, on every backend: an
/// id that is no key segment, metadata over the value limit; `stayJoined` gives up at once
/// rather than retrying what cannot pass.
@Suite(.serverLoadLimit) struct MembershipLimitsTests {
    @Test(arguments: RecipeBackend.all)
    func badIDsAndOversizedMetadataAreRefused(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let membership = Membership(store: try await handles.open(), group: try Key("/crew"))
        for (id, problem) in [("a/b", "must not contain '/'"), ("..", "'..' is not allowed"), ("", "empty segment"), ("a\nb", "U+000A")] {
            await #expect {
                try await membership.join(id: id)
            } throws: { error in
                (error as? CoordinationError)?.code == .invalidKey && "\(error)".contains(problem)
            }
        }
        let tooLarge = [UInt8](repeating: 1, count: CoordinationLimits.maxValueBytes + 1)
        let attempts: [@Sendable () async throws -> Void] = [
            { _ = try await membership.join(id: "m", metadata: tooLarge) },
            { try await membership.stayJoined(id: "m", metadata: tooLarge) },
        ]
        for attempt in attempts {
            await #expect {
                try await withDeadline("the oversized metadata to be refused", limit: .seconds(10), attempt)
            } throws: { error in
                (error as? CoordinationError)?.code == .valueTooLarge && "\(error)".contains("\(CoordinationLimits.maxValueBytes)")
            }
        }
        #expect(try await membership.members() == [], "nothing was made")
    }
}
