/// The subtree walk written once over `get` and `children(of:)`, for backends without a cheaper
/// range read. Parents come before children, siblings in byte order; keys that vanish during the
/// walk are skipped.
public enum TreeWalk {
    public static func walk(
        _ store: some CoordinationStore, from key: Key
    ) -> AsyncThrowingStream<Record, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var stack: [Key] = [key]
                    while let next = stack.popLast() {
                        try Task.checkCancellation()
                        if !next.isRoot {
                            guard let record = try await store.get(next) else { continue }
                            continuation.yield(record)
                        }
                        let names: [String]
                        do {
                            names = try await store.children(of: next)
                        } catch let error as CoordinationError where error.code == .noNode {
                            continue
                        }
                        for name in names.reversed() {
                            stack.append(try next.child(name))
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
