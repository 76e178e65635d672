import Coordination
import Synchronization

/// The etcd cluster a handle reached first, known by the cluster ID in every reply's header:
/// every later reply must come from that cluster. A store URL listing members of two clusters (a
/// host pasted from the wrong list) had the handle move to the other cluster once its member
/// failed, and carry on there in silence: other keys, a second holder of every lock, a job run
/// on both.
final class ClusterIdentity: Sendable {
    private let first = Mutex<(id: String, endpoint: String)?>(nil)

    /// Checks the `header` of a reply from `endpoint`; the first one to name a cluster names the
    /// handle's. A header that names none (a gateway that leaves the field out) passes.
    /// - Returns: `invalidConfiguration` when the header names another cluster.
    func check(header: JSONValue?, from endpoint: String, kind: RequestKind) -> CoordinationError? {
        guard let id = header?["cluster_id"]?.stringValue, !id.isEmpty else { return nil }
        let known = first.withLock { first in
            if first == nil { first = (id, endpoint) }
            return first!
        }
        guard known.id != id else { return nil }
        let applied = kind.sendsOnce ? " This write reached it, and may have been applied there." : ""
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
