import CCurl
import Coordination

/// The decisions of one gateway call, apart from how its requests are sent: requests go out on a
/// thread's own ``CurlConnection`` (session, watches) or through the store's ``CurlMultiLoop``
/// (everything else), and both follow these same rules.
///
/// Connection errors move on to the next endpoint (for writes only when the request surely never
/// left, but for a lease grant always); so does a reply that is not etcd's (for writes only when
/// no proxy may have forwarded them); a 401 re-authenticates once and retries (tokens expire); a
/// read refused as Unavailable, and any request refused with "no leader" (a member in an election
/// or cut off from the rest of its cluster), tries another member.
struct GatewayCall {
    enum Step {
        case reply(JSONValue)
        /// Send ``nextRequest()`` again (the next endpoint, or the same one after authenticating).
        case next
        /// Get a new token from `endpoint`, then send ``nextRequest()``.
        case authenticate(endpoint: String)
        /// Wait this long, then send ``nextRequest()``: every member said it has no leader.
        case waitForLeader(Duration)
        case fail(CoordinationError)
    }

    private let gateway: Gateway
    private let path: String
    private let payload: [UInt8]
    private let kind: RequestKind
    private let timeout: Duration
    /// Whether `timeout` bounds the whole call, every endpoint's request within it, rather than
    /// each request (a close's revoke, which must not hold the close up once per member).
    private let boundsWholeCall: Bool
    private let first: Int
    private var attempt = 0
    private var index = 0
    private var reauthenticated = false
    private var lastFailure: GatewayFailure?
    /// When the call began, and the next wait for a leader: a cluster in an election refuses
    /// at every member (the request asks for a leader), and the call waits for one within its
    /// time-out, as a request that did not ask would have waited at the member.
    private let started = ContinuousClock.now
    private var leaderWait = Duration.milliseconds(50)
    private var waitedForLeader = false
    /// Each endpoint that could not be reached, in turn: named together once all were tried.
    private var unreached: [(endpoint: String, failure: TransportFailure)] = []
    /// Whether the request out is the ``ClusterIdentity/probePath``'s, asking the endpoint's
    /// cluster before a write goes there; and the endpoint last asked (once per endpoint: a probe
    /// that could not tell leaves the write to the checks it always gets).
    private var probing = false
    private var probed: Int?

    init(gateway: Gateway, path: String, payload: [UInt8], kind: RequestKind, timeout: Duration, boundsWholeCall: Bool = false) {
        self.gateway = gateway
        self.path = path
        self.payload = payload
        self.kind = kind
        self.timeout = timeout
        self.boundsWholeCall = boundsWholeCall
        first = gateway.preferredEndpoint
    }

    /// When the call's time-out runs out, counted from its start: a login on its behalf
    /// (``Step/authenticate(endpoint:)``) ends by then.
    var deadline: ContinuousClock.Instant { started + timeout }

    /// The request to send now; `nil` once every endpoint was tried (throw ``exhausted``).
    /// After a wait for a leader or a login, a request has only what is left of the time-out:
    /// the call ends within it even should a member then take the request and never answer (the
    /// session's keep-alive counts on that to try again before its lease ends). So does every
    /// request of a call the time-out bounds whole (`boundsWholeCall`).
    mutating func nextRequest() -> GatewayRequest? {
        guard attempt < gateway.endpoints.count else { return nil }
        var requestTimeout = timeout
        if waitedForLeader || reauthenticated || boundsWholeCall {
            // Curl counts in milliseconds, and a zero time-out would mean none.
            let left = deadline - ContinuousClock.now
            guard left >= .milliseconds(1) else {
                if lastFailure?.asksForAuthentication == true {
                    // The login took the time left: the request was refused for its token, then
                    // not sent again. Its 401 is not the answer (the new token may be good).
                    lastFailure = .transport(
                        TransportFailure(
                            code: Int(CURLE_OPERATION_TIMEDOUT.rawValue),
                            message: "no time was left of the request's \(timeout) after logging in again"),
                        endpoint: gateway.endpoints[index])
                }
                return nil
            }
            requestTimeout = left
        }
        index = (first + attempt) % gateway.endpoints.count
        // A write goes only to a member known to be of the handle's cluster: a reply is checked
        // once it comes, after the write was applied. Asked with no token: the probe's path needs none.
        probing = kind.sendsOnce && gateway.endpoints.count > 1 && probed != index && gateway.cluster.needsConfirming(index)
        if probing {
            probed = index
            return GatewayRequest(
                baseURL: gateway.endpoints[index], path: ClusterIdentity.probePath, body: Array("{}".utf8), token: nil, timeout: requestTimeout,
                sendsOnce: false)
        }
        return GatewayRequest(
            baseURL: gateway.endpoints[index], path: path, body: payload, token: gateway.currentToken, timeout: requestTimeout,
            sendsOnce: kind.sendsOnce)
    }

    /// What the last request's outcome means.
    mutating func handle(_ outcome: Result<(status: Int, body: [UInt8]), TransportFailure>) -> Step {
        if probing { return handleProbe(outcome) }
        let endpoint = gateway.endpoints[index]
        let status: Int
        let reply: [UInt8]
        switch outcome {
        case .failure(let error):
            noteUnreached(error)
            if kind.sendsOnce && !error.neverSent {
                // This write may have been applied, so it is not sent again; but the endpoint
                // failed, so later requests start at the next one.
                return .fail(exhausted)
            }
            return tryNext(after: error)
        case .success(let answer):
            (status, reply) = answer
            gateway.noteAnswered(index)
        }
        if status == 200 {
            guard let json = JSONValue.parse(reply), case .object = json else {
                // Cut-off or garbled JSON is etcd's reply gone wrong; anything else is not etcd.
                guard reply.first(where: { !Self.whiteSpace.contains($0) }) == UInt8(ascii: "{") || reply.isEmpty else {
                    return notEtcd(.notGateway(status: status, body: Gateway.excerpt(reply), endpoint: endpoint), status: status)
                }
                return .fail(.gateway(
                    .malformed("\(path) answered \(reply.count) bytes that are not a JSON object: \(Gateway.excerpt(reply))"), kind: kind))
            }
            // Streaming endpoints (lease keep-alive) put the header inside their result.
            if let foreign = gateway.cluster.check(header: json["header"] ?? json["result"]?["header"], from: gateway.endpoints, index: index, kind: kind) {
                gateway.rotateEndpoint(from: index)
                return .fail(foreign)
            }
            // Streaming endpoints (lease keep-alive) report errors inside a 200 reply.
            guard case .object = json["error"] else { return .reply(json) }
        }
        let failure = Gateway.failure(status: status, reply: reply, endpoint: endpoint)
        if failure.asksForAuthentication, gateway.usesAuth, !reauthenticated {
            // Should no request follow the login (its time ran out), the call ends with this.
            lastFailure = failure
            reauthenticated = true
            return .authenticate(endpoint: endpoint)
        }
        if case .notGateway = failure { return notEtcd(failure, status: status) }
        // A member stopping (removed from its cluster, or shutting down) serves nothing more, and
        // may answer so for a while before it exits: later calls start at the next member, and
        // this one goes there too unless it is a write that may have been proposed already.
        if case .status(_, _, let message, _) = failure, Self.isStopping(message) {
            gateway.rotateEndpoint(from: index)
            guard !kind.sendsOnce, gateway.endpoints.count > 1 else { return .fail(.gateway(failure, kind: kind)) }
            lastFailure = failure
            attempt += 1
            return .next
        }
        // A member without a leader (an election under way, or cut off from the others) cannot
        // serve; another may. "no leader" comes before any proposal (the request asks for a
        // leader: see ``CurlHeaders``), so a write goes on too; so does a learner's refusal (a
        // member still catching up serves no client), which it gives before anything else.
        if case .status(_, 14?, let message, _) = failure, kind == .read || Self.isRefusedUnapplied(message),
            gateway.endpoints.count > 1 || Self.isNoLeader(message)
        {
            lastFailure = failure
            attempt += 1
            gateway.rotateEndpoint(from: index)
            if attempt >= gateway.endpoints.count, Self.isNoLeader(message), ContinuousClock.now - started + leaderWait < timeout {
                // Every member refused: an election is under way (or quorum is lost). Go round again.
                attempt = 0
                waitedForLeader = true
                defer { leaderWait = min(leaderWait * 2, .milliseconds(500)) }
                return .waitForLeader(leaderWait)
            }
            return .next
        }
        return .fail(.gateway(failure, kind: kind))
    }

    /// What the reply to a probe before a write means: a member of another cluster is refused
    /// with nothing sent; one that cannot be reached is passed over as for a write that never
    /// left; any other answer (a member that does not serve the probe's path) sends the write,
    /// whose own reply is checked.
    private mutating func handleProbe(_ outcome: Result<(status: Int, body: [UInt8]), TransportFailure>) -> Step {
        switch outcome {
        case .failure(let error):
            noteUnreached(error)
            return tryNext(after: error)
        case .success(let (status, reply)):
            gateway.noteAnswered(index)
            if status == 200, let json = JSONValue.parse(reply),
                let foreign = gateway.cluster.check(header: json["header"], from: gateway.endpoints, index: index, kind: kind, beforeWrite: true)
            {
                gateway.rotateEndpoint(from: index)
                return .fail(foreign)
            }
        }
        return .next
    }

    /// The endpoint in use could not be reached: it is named with the others once all were
    /// tried, and later calls start at the next one.
    private mutating func noteUnreached(_ failure: TransportFailure) {
        var error = failure
        error.endpointAnsweredBefore = gateway.hasAnswered(index)
        lastFailure = .transport(error, endpoint: gateway.endpoints[index])
        unreached.append((gateway.endpoints[index], error))
        gateway.rotateEndpoint(from: index)
    }

    private mutating func tryNext(after error: TransportFailure) -> Step {
        gateway.logger.debug("etcd endpoint failed, trying the next", metadata: ["endpoint": "\(gateway.endpoints[index])", "error": "\(error.message)"])
        attempt += 1
        return .next
    }

    private static let whiteSpace: Set<UInt8> = [9, 10, 13, 32]

    /// Whether a refusal says the member is stopping: raft's "raft: stopped" (code 2), or the
    /// server's "etcdserver: server stopped" (code 14), which it may give after proposing a write.
    static func isStopping(_ message: String) -> Bool { message.contains("raft: stopped") || message.contains("etcdserver: server stopped") }

    /// Whether an Unavailable (code 14) refusal says the member has no leader.
    static func isNoLeader(_ message: String) -> Bool { message.contains("no leader") }

    /// Whether an Unavailable (code 14) refusal is a learner's: a member that serves no client.
    static func isLearner(_ message: String) -> Bool { message.contains("not supported for learner") }

    /// Whether an Unavailable (code 14) refusal came before the member applied anything, so that
    /// a write may go to another member.
    static func isRefusedUnapplied(_ message: String) -> Bool { isNoLeader(message) || isLearner(message) }

    /// A reply that is not etcd's: a web server's page, or a proxy's. Below 500 nothing was
    /// applied behind it, so any request goes on to the next endpoint. A proxy's 5xx (502, 503,
    /// 504) may come after it forwarded the request and etcd applied it: a write stops there,
    /// as after a dropped connection. A reply that names a setting to fix (a TLS port spoken to in
    /// plain HTTP) stops every request: the next endpoint is likely set up the same way.
    private mutating func notEtcd(_ failure: GatewayFailure, status: Int) -> Step {
        let error = CoordinationError.gateway(failure, kind: kind)
        if error.code == .invalidConfiguration || (kind.sendsOnce && status >= 500) { return .fail(error) }
        lastFailure = failure
        gateway.rotateEndpoint(from: index)
        attempt += 1
        return .next
    }

    /// The error once no endpoint is left to try; when none could be reached, each is named.
    var exhausted: CoordinationError {
        var error = CoordinationError.gateway(lastFailure ?? .malformed("no endpoint configured"), kind: kind)
        let plainlyUnreachable = unreached.allSatisfy { !$0.failure.timedOut && $0.failure.tlsProblem(at: $0.endpoint) == nil && $0.failure.neverSent }
        if unreached.count > 1, unreached.count == attempt, plainlyUnreachable, error.code == .unavailable {
            error.message = CoordinationError.unreachable(unreached)
        }
        return error
    }
}

/// The decisions of getting a token (`/v3/auth/authenticate`), apart from how requests are sent.
/// A wrong password is `unauthenticated`; credentials for a server without auth are simply unused.
struct GatewayLogin {
    private let gateway: Gateway
    private let candidates: [String]
    private let payload: [UInt8]
    private var position = 0
    private var lastFailure: GatewayFailure?
    private var refused: CoordinationError?
    private let deadline: ContinuousClock.Instant?

    /// Tries `endpoint` only, or every endpoint in turn; each request within the gateway's request
    /// time-out and, when given, before `deadline` (a login on behalf of a call ends within the call's time).
    init(gateway: Gateway, endpoint: String?, deadline: ContinuousClock.Instant? = nil) {
        self.gateway = gateway
        self.deadline = deadline
        if let credentials = gateway.userCredentials {
            candidates = endpoint.map { [$0] } ?? gateway.endpoints
            let body: JSONValue = ["name": .string(credentials.user), "password": .string(credentials.password)]
            payload = body.serialized
        } else {
            candidates = []
            payload = []
        }
    }

    mutating func nextRequest() -> GatewayRequest? {
        guard refused == nil, position < candidates.count else { return nil }
        var timeout = gateway.requestTimeout
        if let deadline {
            let left = deadline - ContinuousClock.now
            // Curl counts in milliseconds, and a zero time-out would mean none.
            guard left >= .milliseconds(1) else {
                lastFailure = .transport(
                    TransportFailure(code: Int(CURLE_OPERATION_TIMEDOUT.rawValue), message: "no time was left to log in"),
                    endpoint: candidates[position])
                return nil
            }
            timeout = min(timeout, left)
        }
        return GatewayRequest(baseURL: candidates[position], path: "/v3/auth/authenticate", body: payload, token: nil, timeout: timeout)
    }

    /// Takes the last request's outcome; `true` when the token is settled.
    mutating func handle(_ outcome: Result<(status: Int, body: [UInt8]), TransportFailure>) -> Bool {
        let candidate = candidates[position]
        position += 1
        let status: Int
        let reply: [UInt8]
        switch outcome {
        case .failure(let error):
            lastFailure = .transport(error, endpoint: candidate)
            return false
        case .success(let answer):
            (status, reply) = answer
        }
        guard status == 200 else {
            let failure = Gateway.failure(status: status, reply: reply, endpoint: candidate)
            if case .status(_, 14?, let message, _) = failure, GatewayCall.isNoLeader(message) {
                // A member without a leader cannot log anyone in; another may.
                lastFailure = failure
                return false
            }
            if case .status(_, 9?, let message, _) = failure, message.contains("not enabled") {
                // Credentials for a server without auth: nothing to authenticate, carry on.
                gateway.warnCredentialsUnused()
                gateway.setToken(nil)
                return true
            }
            var error = CoordinationError.gateway(failure, kind: .read)
            // Which server refused: credentials from a config file or the environment may be
            // meant for another cluster than the one they were sent to.
            let server = RefusingServer.etcd(candidate)
            if error.code == .unauthenticated, !failure.refusesCertificateCommonName, let user = gateway.userCredentials?.user {
                // etcd's "invalid user ID or password" named neither the user nor where to look.
                error.message = server.refused(
                    "the login of user '\(user)'",
                    because: "no such user, or a wrong password; check the user name and "
                        + "password in the store URL (etcd://USER:PASSWORD@host/…) or the settings that give them (coord: --username, "
                        + "--password-file, COORD_USERNAME, COORD_PASSWORD, COORD_PASSWORD_FILE, 'username' and 'password' in the config file)")
            }
            refused = error
            return false
        }
        guard let json = JSONValue.parse(reply), let newToken = json["token"]?.stringValue else {
            refused = .gateway(.malformed("an authenticate reply without a token: \(Gateway.excerpt(reply))"), kind: .read)
            return false
        }
        gateway.setToken(newToken)
        gateway.logger.debug("etcd token renewed")
        return true
    }

    /// Throws why no token was settled (nothing when there are no credentials to use).
    func finish() throws(CoordinationError) {
        if let refused { throw refused }
        if candidates.isEmpty { return }
        throw .gateway(lastFailure ?? .malformed("no endpoint configured"), kind: .read)
    }
}
