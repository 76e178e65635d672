import Foundation
import CoordinationTesting
import Testing

/// A suite trait that lets only a few server-heavy test cases run at the same moment.
///
/// Swift Testing starts every test case at once. Tests of recipes, the scheduler and the CLI open
/// several sessions each (a ZooKeeper handle is a socket, a pipe and two C threads; an etcd handle
/// is a few kept-alive connections with a thread each), so an unbounded start opens thousands of
/// descriptors at once: past a soft limit of 1,024 the whole run stalls. The limit keeps the load
/// near what the machine serves well while the run stays parallel. The conformance suite has a
/// gate of its own (``CheckGate/shared``), so the two never wait on each other.
public struct ServerLoadLimit: SuiteTrait, TestTrait, TestScoping {
    /// Shared by every suite that carries the trait: a few test cases per core.
    static let gate = CheckGate(width: max(4, ProcessInfo.processInfo.activeProcessorCount * 3))

    public var isRecursive: Bool { true }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        // Each case takes a slot; a parameterised test as a whole takes none (or its cases could
        // wait forever behind it).
        testCase == nil ? nil : self
    }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await Self.gate.run { try await function() }
    }
}

extension Trait where Self == ServerLoadLimit {
    /// Bounds how many of the suite's test cases (and those of every other suite with the trait)
    /// run at once.
    public static var serverLoadLimit: Self { ServerLoadLimit() }
}
