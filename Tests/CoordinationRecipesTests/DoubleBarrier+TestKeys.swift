import Coordination
import CoordinationRecipes

extension DoubleBarrier {
    /// The keys of the double barrier the tests use: its path `/double`, its members' folder and
    /// its `ready`.
    static func testKeys() throws -> (path: Key, members: Key, ready: Key) {
        let path = try Key("/double")
        return (path, try path.child("members"), try path.child("ready"))
    }
}
