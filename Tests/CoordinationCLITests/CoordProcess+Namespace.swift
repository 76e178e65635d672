import Coordination
import CoordinationTestSupport
import Testing

extension CoordProcess {
    /// Runs `body` with a store open on a fresh namespace of `backend`, that namespace's store URL
    /// and a `coord` to run against it; closes the store and removes coord's directory after.
    static func onFreshNamespace<Result>(
        of backend: TestBackend, _ body: (_ store: any CoordinationStore, _ url: String, _ coord: CoordProcess) async throws -> Result
    ) async throws -> Result {
        let handles = try TestHandles(backend)
        return try await TestHandles.closing(handles) {
            let store = try await handles.open()
            let url = try #require(backend.url(handles.namespace))
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            return try await body(store, url, coord)
        }
    }
}
