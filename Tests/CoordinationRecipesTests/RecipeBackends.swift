import Coordination
import CoordinationMemory
import CoordinationTestSupport
import Synchronization
import Testing

/// Recipe tests run on every backend of the shared test support, each test on fresh handles.
typealias RecipeBackend = TestBackend

/// Handles for a recipe test, with 10 s sessions. These tests end sessions on purpose
/// (`backend.expire`), never by waiting out a TTL, and loaded runs twice stalled etcd's
/// keep-alives past a 3 s lease ("requested lease not found") in tests that meant none to end.
func Handles(_ backend: RecipeBackend, test: String = #function) throws -> TestHandles {
    try TestHandles(backend, ttl: .seconds(10), test: test)
}


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
