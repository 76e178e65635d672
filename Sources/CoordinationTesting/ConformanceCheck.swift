/// One named check of the conformance suite: a single assertion about one clause of the contract.
///
/// Checks are values so that a test framework can run each one as its own test case:
/// `@Test(arguments: ConformanceSuite.checks)`.
public struct ConformanceCheck: Sendable, CustomStringConvertible {
    /// Unique, kebab-case, for example `transaction-third-op-conflict-applies-nothing`.
    public let name: String
    /// The contract clause (1...10, listed on `CoordinationStore`) the check belongs to.
    public let clause: Int
    /// One sentence: what is asserted.
    public let summary: String

    let body: @Sendable (CheckContext) async throws -> Void

    init(
        _ name: String, clause: Int, _ summary: String,
        body: @escaping @Sendable (CheckContext) async throws -> Void
    ) {
        self.name = name
        self.clause = clause
        self.summary = summary
        self.body = body
    }

    public var description: String { name }
}
