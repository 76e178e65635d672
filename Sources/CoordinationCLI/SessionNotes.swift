import Coordination

/// What a following command (`kv watch`, `members --watch`) says on stderr when its session
/// changes: an outage is otherwise silent, the lines stop and then go on, and a reader cannot
/// tell a quiet store from a lost one.
enum SessionNotes {
    /// What `kv watch` prints after a reconnect: ZooKeeper (and etcd after a compaction) sends a
    /// fresh snapshot instead of the changes.
    static let changesFollow = "what changed meanwhile follows (the changes, or a fresh snapshot)"

    /// The note for `state` after `previous`, with `whatFollows` said once contact is back;
    /// `nil` for the states that need no word.
    static func note(for state: SessionState, after previous: SessionState?, whatFollows: String = changesFollow) -> String? {
        switch state {
        case .suspended: "lost contact with the store; the watch goes on when it is back"
        case .reconnected: "contact is back; " + whatFollows
        case .expired: "the session expired (its ephemeral keys are gone); the watch goes on with a new one"
        // Connected after the first event: a new session (after an expiry), so contact is back
        // too, though not as a reconnect.
        case .connected where previous != nil: "contact is back, in a new session; " + whatFollows
        case .connected, .closed: nil
        }
    }

    /// Runs `work`, noting `store`'s session changes on stderr until it ends.
    static func noting(
        _ store: any CoordinationStore, whatFollows: String = changesFollow, while work: @escaping @Sendable () async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await work() }
            group.addTask {
                var previous: SessionState?
                for await event in store.sessionEvents() {
                    if let note = note(for: event.state, after: previous, whatFollows: whatFollows) {
                        StandardStreams.writeError("coord: note: " + note)
                    }
                    previous = event.state
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
