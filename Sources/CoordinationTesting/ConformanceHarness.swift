public import Coordination

/// What a backend's test target provides to run the conformance suite against it.
///
/// The suite only needs to open handles, to force a session to expire the way the server would,
/// and to cut a handle off from the server for a while; everything else goes through
/// ``CoordinationStore``. A third-party backend implements this protocol in its own tests and runs
/// ``ConformanceSuite`` unchanged.
public protocol ConformanceHarness: Sendable {
    /// A short name for messages: `memory`, `zookeeper`, `etcd`.
    var backendName: String { get }

    /// Opens a new handle, with a session of its own, on the store under test, under `namespace`
    /// (``Key/root`` for none). Every call must reach the same underlying store.
    ///
    /// Each check runs under a fresh `/conformance-<random>` namespace and opens up to six handles
    /// at once; the suite closes them when the check ends, then deletes the namespace through a
    /// handle opened here at ``Key/root``. The harness need not clean up after the suite.
    func openStore(namespace: Key) async throws -> any CoordinationStore

    /// Makes `store`'s session expire now, exactly as the server would after the TTL: its ephemeral
    /// keys are deleted, and `store` must report `expired` on its session stream and then start a
    /// new session by itself (for example: memory advances its clock; ZooKeeper closes the session
    /// from a second handle that took over its id and password; etcd revokes the lease).
    func expireSession(of store: any CoordinationStore) async throws

    /// Cuts `store` off from the server, as a network failure would, without touching its
    /// session on the server: every connection of `store` (requests, keep-alives, watches) is
    /// dropped and new ones are refused until ``healConnection(of:)``. The server keeps the session
    /// for its TTL, so a cut healed well within it must leave the session alive; `store` must report
    /// `suspended` on its session stream, and `reconnected` with the same session after the heal
    /// (for example: ZooKeeper and etcd cut a TCP relay of the handle's own; memory simulates it).
    /// Other handles are not affected. Returns once the cut is in place; it need not wait for
    /// `store` to notice.
    func cutConnection(of store: any CoordinationStore) async throws

    /// Ends a cut made by ``cutConnection(of:)``: `store` may reach the server again, and must
    /// reconnect by itself, without its caller reopening anything. Returns at once; healing a
    /// handle that is not cut is harmless.
    func healConnection(of store: any CoordinationStore) async throws

    /// Checks this backend is known not to pass, by check name, each with the written reason.
    /// The suite runs them anyway and fails if one of them unexpectedly passes, so the list stays true.
    var expectedDeviations: [String: String] { get }
}

extension ConformanceHarness {
    public var expectedDeviations: [String: String] { [:] }
}
