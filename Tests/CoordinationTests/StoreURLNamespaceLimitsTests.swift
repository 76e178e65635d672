import Coordination
import Testing

/// A store URL's namespace is bounded in bytes and in segments (``CoordinationLimits/maxNamespaceBytes``,
/// ``CoordinationLimits/maxNamespaceDepth``): with ``CoordinationLimits/maxKeyDepth`` every create's
/// missing ancestors then fit one etcd transaction. Nothing else checks the depth on the way to a
/// backend, so the URL must refuse a namespace one segment too deep, and take one at the limit.
@Suite struct StoreURLNamespaceLimitsTests {
    private static func namespace(segments: Int) -> String {
        String(repeating: "/n", count: segments)
    }

    @Test func aNamespaceAtTheDepthLimitIsTakenAndOneDeeperRefused() throws {
        let deepest = Self.namespace(segments: CoordinationLimits.maxNamespaceDepth)
        #expect(try StoreURL("etcd://h" + deepest).namespace == Key(deepest))
        let tooDeep = Self.namespace(segments: CoordinationLimits.maxNamespaceDepth + 1)
        let error = #expect(throws: CoordinationError.self) { try StoreURL("zookeeper://h" + tooDeep) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("segments deep") == true, "\(error?.message ?? "")")
    }

    @Test func aNamespaceAtTheByteLimitIsTakenAndOneByteLongerRefused() throws {
        let longest = "/" + String(repeating: "b", count: CoordinationLimits.maxNamespaceBytes - 1)
        #expect(try StoreURL("memory://" + longest).namespace == Key(longest))
        let error = #expect(throws: CoordinationError.self) { try StoreURL("etcd://h" + longest + "b") }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("\(CoordinationLimits.maxNamespaceBytes) bytes") == true, "\(error?.message ?? "")")
    }
}
