import Coordination
import Testing

/// A scope's depth limit (what the ZooKeeper backend lists) and `covers` (what every backend
/// reports) must say the same thing, or a backend would watch keys it never reports or miss keys
/// it should.
@Suite struct WatchScopeTests {
    @Test(arguments: WatchScope.allCases)
    func coversExactlyTheLevelsOfItsDepthLimit(scope: WatchScope) throws {
        for watched in [Key.root, try Key("/f"), try Key("/f/a")] {
            var key = watched
            for depth in 0...5 {
                let expected = scope.depthLimit.map { depth <= $0 } ?? true
                #expect(scope.covers(key, watched: watched) == expected, "\(scope) of \(watched) covering \(key)")
                key = try key.child("n\(depth)")
            }
            for outside in ["/ff", "/f2/x", "/g/f/a"] where !watched.isRoot {
                #expect(!scope.covers(try Key(outside), watched: watched), "\(scope) of \(watched) covering \(outside)")
            }
        }
    }

    @Test func depthLimits() {
        #expect(WatchScope.key.depthLimit == 0)
        #expect(WatchScope.children.depthLimit == 1)
        #expect(WatchScope.grandchildren.depthLimit == 2)
        #expect(WatchScope.subtree.depthLimit == nil)
    }
}
