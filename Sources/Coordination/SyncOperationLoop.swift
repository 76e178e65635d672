/// A C client's own synchronous loop of the benchmark's four operations (`create`, `get`, `set`,
/// `delete`) on keys beneath `folder`: the floor `coord bench` holds a store to. Each backend
/// says how one operation is made; warming up and timing are the same for all.
package protocol SyncOperationLoop: Sendable {
    /// The path the loop's keys go beneath, as the server names it (the namespace included).
    var folder: String { get }
    /// Makes `operation` on `path`, blocking the calling thread until the server answers.
    func perform(_ operation: String, _ path: String) throws(CoordinationError)
}

extension SyncOperationLoop {
    /// `count` untimed rounds of the four operations on keys `w-INDEX`; call on the loop's own thread.
    package func warmUp(_ count: Int) throws(CoordinationError) {
        for index in 0..<count {
            let path = "\(folder)/w-\(index)"
            for operation in ["create", "get", "set", "delete"] { try perform(operation, path) }
        }
    }

    /// Times `operation` on the keys `k-INDEX` of the folder, one after the other, on a thread of
    /// its own; seconds per call.
    package func timed(_ operation: String, indices: Range<Int>) async throws(CoordinationError) -> [Double] {
        try await OwnThread.timeEach(indices.map { "\(folder)/k-\($0)" }) { [self] (path: String) throws(CoordinationError) in
            try perform(operation, path)
        }
    }
}
