import Coordination
import CoordinationMemory
import CoordinationTestSupport
import Synchronization
import Testing

/// Recipe tests run on every backend of the shared test support, each test on fresh handles.
typealias RecipeBackend = TestBackend
typealias Handles = TestHandles


extension Broadcast where Element == Int {
    /// Waits until the value reaches `target` (event-driven: woken by every change).
    func reach(_ target: Int) async {
        for await value in subscribe() where value >= target { return }
    }
}

/// Mutable state shared by the tasks of one test.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}
