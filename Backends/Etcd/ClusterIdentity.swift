import Coordination
import Synchronization

/// The etcd cluster a handle reached first, known by the cluster ID in every reply's header:
/// every later reply must come from that cluster. A store URL listing members of two clusters (a
/// host pasted from the wrong list) had the handle move to the other cluster once its member
/// failed, and carry on there in silence: other keys, a second holder of every lock, a job run
/// on both.
///
/// A reply is checked once it comes, which is too late for a write: so a write goes to an
/// endpoint only once a reply from it named the handle's cluster (``needsConfirming(_:)``).
final class ClusterIdentity: Sendable {
    private let first = Mutex<(id: String, endpoint: String)?>(nil)
    /// The endpoints whose replies named the handle's cluster.
    private let confirmed = EndpointSet()

    /// The path of the request that asks an endpoint its cluster before a write goes there:
    /// served by the member alone (no leader, no quorum), to any user, with no token.
    static let probePath = "/v3/maintenance/status"

    /// Whether a write to endpoint `index` must wait for a reply from it that names the handle's
    /// cluster: one is known, and the endpoint has not named it yet.
    func needsConfirming(_ index: Int) -> Bool {
        // The lock-free test first: on a store of several endpoints every write asks.
        !confirmed.contains(index) && first.withLock { $0 != nil }
    }

    /// Checks the `header` of a reply from `endpoints[index]`; the first one to name a cluster
    /// names the handle's. A header that names none (a gateway that leaves the field out) passes.
    /// - Parameter beforeWrite: the reply is the ``probePath``'s, asked before a write went there.
    /// - Returns: `invalidConfiguration` when the header names another cluster.
    func check(header: JSONValue?, from endpoints: [String], index: Int, kind: RequestKind, beforeWrite: Bool = false) -> CoordinationError? {
        guard let id = header?["cluster_id"]?.stringValue, !id.isEmpty else { return nil }
        let endpoint = endpoints[index]
        let known = first.withLock { first in
            if first == nil { first = (id, endpoint) }
            return first!
        }
        guard known.id != id else {
            confirmed.insert(index)
            return nil
        }
        // Only a member whose cluster changed since it named the handle's (the cluster recreated
        // at the same address) gets a write unasked.
        let applied =
            beforeWrite ? " The write was not sent there." : kind.sendsOnce ? " This write reached it, and may have been applied there." : ""
        return CoordinationError(
            .invalidConfiguration,
            "\(endpoint) is a member of another etcd cluster (ID \(Self.shown(id))) than \(known.endpoint) (ID \(Self.shown(known.id))), "
                + "which this store handle reached first: its endpoints (the store URL, or the endpoints setting) list members of two clusters, or the cluster was "
                + "recreated since with other settings. List the members of one cluster only (etcdctl member list shows them); "
                + "after a cluster was recreated, open the store again (restart the command).\(applied)")
    }

    /// A cluster ID as etcd's own logs and etcdctl's tables show it: in hex (the gateway sends decimal).
    static func shown(_ id: String) -> String {
        UInt64(id).map { String($0, radix: 16) } ?? id
    }
}
