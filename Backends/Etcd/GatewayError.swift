import CCurl
import Coordination

/// Everything that can go wrong talking to the gateway, before it becomes a portable error.
enum GatewayFailure: Sendable {
    /// curl could not complete the transfer on any endpoint.
    case transport(TransportFailure, endpoint: String)
    /// The gateway at `endpoint` answered with an error status and (usually) a gRPC code and
    /// message. The endpoint is `nil` where it is not known (a test's own failure).
    case status(Int, grpcCode: Int?, message: String, endpoint: String? = nil)
    /// The reply was not the JSON we expected: truncated, malformed, or missing a field.
    case malformed(String)
    /// `endpoint` answered over HTTP, but not with the gateway's JSON: something other than
    /// etcd's client port (a web server, a proxy's own error page). `body` is an excerpt.
    case notGateway(status: Int, body: String, endpoint: String)

    /// Whether the failure asks for a (new) token: etcd's Unauthenticated, or a bare 401.
    var asksForAuthentication: Bool {
        switch self {
        case .status(let status, let grpcCode, _, _): grpcCode == 16 || (grpcCode == nil && status == 401)
        case .notGateway(let status, _, _): status == 401
        case .transport, .malformed: false
        }
    }

    /// Whether etcd's gateway refused the client certificate for naming a user (a Common Name),
    /// which it does with auth and `--client-cert-auth` on, before any login is looked at.
    var refusesCertificateCommonName: Bool {
        if case .notGateway(400, let body, _) = self { body.contains("CommonName") } else { false }
    }
}

/// Whether a failed request may have changed the store: decides between `unavailable` and
/// `connectionLoss`, and whether it may be sent to another endpoint after it may have arrived.
enum RequestKind: Sendable {
    case read
    case write
    /// A write whose second copy does no harm, so it goes on to the next endpoint after a failed
    /// transfer or a proxy's error, as a read does: a lease grant (a lease granted twice leaves
    /// one that is never kept alive, which expires after its TTL).
    case repeatableWrite

    /// Whether a request that may have reached the server must not be sent again.
    var sendsOnce: Bool { self == .write }
}

extension CoordinationError {
    /// The body of Go's HTTP 404, which etcd sends for the gateway's paths when it runs without it.
    static let goNotFound = "404 page not found"

    /// What etcd's message says while its NOSPACE alarm is raised.
    static let databaseSpaceExceeded = "database space exceeded"

    /// Whether etcd refused the request because its database is full (the NOSPACE alarm).
    var isEtcdDatabaseFull: Bool { backendDetail?.contains(Self.databaseSpaceExceeded) == true }

    /// Endpoints that could not be reached, named as ZooKeeper names them: each endpoint and why,
    /// then what to check (a host name, when no name resolved).
    static func unreachable(_ endpoints: [(endpoint: String, failure: TransportFailure)]) -> String {
        let unresolved = Int(CURLE_COULDNT_RESOLVE_HOST.rawValue)
        let reasons = endpoints.map { endpoint, failure in
            "\(endpoint): \(failure.code == Int(CURLE_COULDNT_CONNECT.rawValue) ? "connection refused" : failure.message)"
        }
        let check = endpoints.allSatisfy { $0.failure.code == unresolved }
            ? "is the URL's host name right?" : "is the server running, and is the URL's host:port right?"
        return "cannot reach etcd (\(reasons.joined(separator: "; "))); \(check)"
    }

    /// The one place a gateway failure becomes a ``CoordinationError``; the gateway's own words
    /// (HTTP status, gRPC code and message, curl error) ride along in `backendDetail`.
    static func gateway(_ failure: GatewayFailure, kind: RequestKind, key: Key? = nil) -> CoordinationError {
        switch failure {
        case .transport(let transport, let endpoint):
            let detail = "curl error \(transport.code) at \(endpoint): \(transport.message)"
            if transport.timedOut {
                let outcome =
                    switch kind {
                    case .write: transport.neverSent ? ", and nothing was written" : ", and a write's outcome is unknown"
                    case .read: ", nothing was read"
                    case .repeatableWrite: ""
                    }
                return CoordinationError(
                    .timeout,
                    "etcd did not answer in time\(outcome): is the server overloaded or stopped? (a member whose cluster has no "
                        + "quorum may answer nothing until a majority of its members run; the URL's timeout= sets how long to wait)",
                    key: key, backendDetail: detail)
            }
            let code: CoordinationError.Code = kind == .write && !transport.neverSent ? .connectionLoss : .unavailable
            // Asked after it hung up, the endpoint answered as ZooKeeper does: name it, and not
            // etcds://, which only leads on to a TLS handshake failure there.
            if transport.zooKeeperAnswered {
                let hungUp = endpoint.hasPrefix("https://") ? "cut off the TLS handshake" : "closed the connection without a reply"
                return CoordinationError(
                    code,
                    "\(endpoint) is a ZooKeeper server, not an etcd v3 JSON gateway (it \(hungUp), and answered a ZooKeeper "
                        + "handshake): is the URL's host:port right? \(etcdPortHint)",
                    key: key, backendDetail: detail)
            }
            if transport.plainEtcdAnswered {
                let plain = "http://" + endpoint.dropFirst("https://".count)
                return CoordinationError(
                    code,
                    "\(endpoint) cut off the TLS handshake, and etcd answers plain HTTP at \(plain): it serves no TLS there; "
                        + "use etcd:// (or start etcd with --cert-file and --key-file for etcds://)",
                    key: key, backendDetail: detail)
            }
            // A TLS set-up failure sent nothing: say what to check, whatever the request was.
            if let tls = transport.tlsProblem(at: endpoint) {
                return CoordinationError(tls.isConfiguration ? .invalidConfiguration : .unavailable, tls.message, key: key, backendDetail: detail)
            }
            // A TLS port answers a plain HTTP request with nothing at all, and so does a server
            // that does not speak HTTP (ZooKeeper's port): never heard from, it is not known to be
            // etcd, so the words say what it may be (ZooKeeper's, once asked, is named above).
            // (The code still says a write's fate is open.)
            // Once it answered, an empty reply is a dropped connection.
            if transport.code == Int(CURLE_GOT_NOTHING.rawValue) && endpoint.hasPrefix("http://") && !transport.endpointAnsweredBefore {
                return CoordinationError(
                    code,
                    "\(endpoint) closed the connection without a reply, as a port serving TLS or a server that is not an etcd v3 JSON "
                        + "gateway does: if etcd serves TLS there, use etcds://; else is the URL's host:port right? \(etcdPortHint)",
                    key: key, backendDetail: detail)
            }
            if code == .connectionLoss {
                return CoordinationError(
                    .connectionLoss, "lost contact with etcd during a write; its outcome is unknown", key: key, backendDetail: detail)
            }
            return CoordinationError(.unavailable, unreachable([(endpoint, transport)]), key: key, backendDetail: detail)

        case .notGateway(let status, let body, let endpoint):
            let detail = "HTTP \(status) at \(endpoint), not JSON"
            if body.contains("HTTP request to an HTTPS server") {
                return CoordinationError(
                    .invalidConfiguration, "etcd serves TLS on this port; use etcds:// (with cacert= naming its CA)", key: key,
                    backendDetail: detail)
            }
            if failure.refusesCertificateCommonName {
                // etcd with auth and --client-cert-auth on refuses, on its gateway, a client
                // certificate that names a user: it takes the CN as the user only from gRPC
                // clients (CVE-2018-16886), so the certificate itself has to change.
                return CoordinationError(
                    .unauthenticated,
                    RefusingServer.etcd(endpoint).refused(
                        "the request",
                        because: "it has authentication and --client-cert-auth on, and its JSON gateway refuses a client certificate "
                            + "with a Common Name (CN): it takes the CN as the user only from gRPC clients. Give cert= a client "
                            + "certificate with an empty CN (made with openssl req -subj \"/O=coord\", say), signed by a CA etcd "
                            + "trusts, and the user and password in the store URL (etcds://USER:PASSWORD@host/…)"),
                    key: key, backendDetail: detail)
            }
            let code = statusCode(status: status, grpcCode: nil, message: body, kind: kind)
            let what = body.isEmpty ? "an empty body" : "\"\(body)\""
            // A proxy's own 5xx page may stand for etcd failing behind it; anything else is the
            // wrong server (or port) answering.
            let cause =
                if status >= 500 && status != 501 {
                    "a proxy in front of etcd may have failed" + (code == .connectionLoss ? ", and a write's outcome is unknown" : "")
                } else if status == 404 && body == Self.goNotFound {
                    // What etcd itself answers on its client port with the gateway off (a Go
                    // server's page for a path it has no handler for): worth naming before the port.
                    "an etcd with its JSON gateway off answers so (start it with --enable-grpc-gateway, on unless set false; coord "
                        + "needs etcd 3.4 or later, which serve it under /v3); else is the URL's host:port right? \(etcdPortHint)"
                } else {
                    "is the URL's host:port right? \(etcdPortHint)"
                }
            return CoordinationError(
                code, "\(endpoint) answered HTTP \(status) with \(what), not as an etcd v3 JSON gateway does: \(cause)", key: key,
                backendDetail: detail)

        case .status(let status, let grpcCode, let message, let endpoint):
            let server = RefusingServer.etcd(endpoint)
            let detail = "HTTP \(status)" + (grpcCode.map { ", gRPC code \($0)" } ?? "") + ": \(message)"
            let code = statusCode(status: status, grpcCode: grpcCode, message: message, kind: kind)
            if message.contains(Self.databaseSpaceExceeded) {
                // The NOSPACE alarm: every write but a delete, and every lease grant, is refused
                // until an operator acts. Reads, deletes and keep-alives go on.
                return CoordinationError(
                    .unavailable,
                    "etcd's database is full (its space quota, --quota-backend-bytes, is reached) and it refuses every write "
                        + "but deletes, and every new session, until space is freed: compact its history, defragment and disarm the alarm (etcdctl compact REVISION; "
                        + "etcdctl defrag; etcdctl alarm disarm); if the keys themselves fill it, delete some first (with etcdctl del, or a handle opened before it filled: a new one cannot open) or raise the quota, "
                        + "as the next write would raise the alarm again. Run etcd with --auto-compaction-retention so that it does not fill again",
                    key: key, backendDetail: detail)
            }
            if message.contains("request is too large") || message.contains("received message larger than max") {
                // etcd's own request limit, set lower than the portable limits that coord checks
                // before sending: the same write would pass on a server with the default. etcd
                // refuses a request over it, and gRPC one over it plus 512 KiB, before etcd sees it.
                return CoordinationError(
                    code,
                    "etcd refused the request as larger than its --max-request-bytes (a server setting, 1.5 MiB by default), "
                        + "though it is within coord's limits of \(CoordinationLimits.maxValueBytes) bytes per value and per "
                        + "transaction: raise --max-request-bytes on every etcd member to at least 1.5 MiB, or write less at once",
                    key: key, backendDetail: detail)
            }
            if message.contains("too many operations in txn request") {
                // etcd's own limit on a txn's operations, set lower than the default that coord's
                // transactions are sized for (``EtcdRequest/maxOperationsPerBranch``).
                return CoordinationError(
                    code,
                    "etcd refused a transaction as having more operations than its --max-txn-ops (a server setting, "
                        + "\(EtcdRequest.maxOperationsPerBranch) by default), though it is within coord's limit of "
                        + "\(CoordinationLimits.maxTransactionOperations) operations, each of which may take two: raise --max-txn-ops "
                        + "on every etcd member to at least \(EtcdRequest.maxOperationsPerBranch)",
                    key: key, backendDetail: detail)
            }
            if code == .unauthenticated && message.contains("user name is empty") {
                // What etcd says to a request without a token: the store was given no user.
                return CoordinationError(
                    code,
                    server.refused(
                        "the request",
                        because: "it has authentication enabled, and no user was given; put the user and password in the store URL "
                            + "(etcd://USER:PASSWORD@host/…) or give the username and password settings (coord: --username with "
                            + "--password-file, COORD_USERNAME with COORD_PASSWORD, or 'username' and 'password' in the config file)"),
                    key: key, backendDetail: detail)
            }
            if message.contains("etcdserver: no leader") {
                // Past the call's waits for an election: the cluster has lost its quorum, which
                // only starting members mends.
                return CoordinationError(
                    code,
                    server.refused(
                        "the request",
                        because: "its cluster has no leader (etcdserver: no leader): fewer than a majority of the cluster's members "
                            + "run or reach each other, or an election is not over; start enough of them for a majority"),
                    key: key, backendDetail: detail)
            }
            if GatewayCall.isStopping(message) {
                // Every other endpoint given was tried, or the request was a write.
                let outcome = code == .connectionLoss ? "; the write may have been proposed before, so its outcome is unknown" : ""
                return CoordinationError(
                    code,
                    server.refused(
                        "the request",
                        because: "it is stopping (\(message)): it was removed from its cluster, or is shutting down\(outcome)"),
                    key: key, backendDetail: detail)
            }
            if GatewayCall.isLearner(message) {
                // Every endpoint given was tried: none of them is a voting member.
                return CoordinationError(
                    .unavailable,
                    server.refused(
                        "the request",
                        because: "it is a learner (a member still catching up with its cluster, which serves no client), and no other "
                            + "endpoint given serves; give coord the cluster's voting members (etcdctl member list shows learners "
                            + "with true in its last column)"),
                    key: key, backendDetail: detail)
            }
            if code == .sessionExpired {
                // etcd's "requested lease not found" names its lease, not the user's situation; say it as ZooKeeper's does.
                return CoordinationError(
                    code, "the etcd session expired (its lease is gone), and its ephemeral keys with it; the handle starts a new session by itself",
                    key: key, backendDetail: detail)
            }
            return CoordinationError(code, server.refused("the request", because: message), key: key, backendDetail: detail)

        case .malformed(let what):
            // A write's reply came, so the write reached etcd; what it did cannot be read.
            return CoordinationError(
                kind == .write ? .connectionLoss : .unavailable, "etcd sent a reply that could not be understood",
                key: key, backendDetail: "malformed gateway reply: \(what)")
        }
    }

    /// The portable code for an error status, by etcd's gRPC code where it gave one.
    private static func statusCode(status: Int, grpcCode: Int?, message: String, kind: RequestKind) -> CoordinationError.Code {
        switch (grpcCode, status) {
        case (16?, _), (nil, 401): return .unauthenticated
        case (7?, _), (nil, 403): return .permissionDenied
        case (3?, _) where message.contains("authentication failed") || message.contains("user name"):
            // etcd reports a wrong user or password as InvalidArgument.
            return .unauthenticated
        case (3?, _) where message.contains("key not found"):
            // A put with `ignore_lease` on a missing key: it updates only what exists.
            return .noNode
        case (3?, _) where message.contains("too many operations") || message.contains("too large"),
            (8?, _) where message.contains("received message larger than max"):
            return .transactionTooLarge
        case (5?, _) where message.contains("lease not found"): return .sessionExpired
        case (4?, _), (nil, 504): return .timeout
        case _ where kind == .write && mayHaveApplied(status: status, grpcCode: grpcCode, message: message):
            return .connectionLoss
        default: return .unavailable
        }
    }

    /// The hint for a server on an endpoint that is not etcd's client port.
    static let etcdPortHint = "etcd's client port is usually 2379"

    /// Whether a write refused with this status may still have been applied. etcd answers some
    /// errors only after proposing the write to raft (a request timed out, the leader changed,
    /// the member is stopping: "server stopped", "transport is closing"), and the proposal can
    /// commit afterwards; so a write is `connectionLoss` (outcome unknown) unless the error is
    /// one etcd gives before proposing. Taking it as `unavailable` would invite a retry that
    /// applies it twice.
    private static func mayHaveApplied(status: Int, grpcCode: Int?, message: String) -> Bool {
        switch grpcCode {
        case 14?:
            // Checked before any proposal: no leader known, or a cluster too old for the request.
            return !(message.contains("no leader") || message.contains("not capable"))
        case 1?, 2?, 10?, 13?, 15?:
            // Cancelled, unknown, aborted, internal, data loss: nothing says it was not applied.
            return true
        case nil:
            // Not from etcd itself (a proxy in between, or a gateway fault): unknown past a 5xx.
            return status >= 500
        default:
            // Invalid argument, not found, permission, quota (resource exhausted), precondition:
            // etcd refuses these before proposing.
            return false
        }
    }
}

extension RefusingServer {
    /// The etcd member at `endpoint` (`http://host:port`, never with a password), as refusals name it.
    static func etcd(_ endpoint: String?) -> RefusingServer { RefusingServer("etcd", at: endpoint) }
}
