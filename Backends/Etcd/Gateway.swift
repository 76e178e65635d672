import CCurl
import Coordination
import Foundation
import Logging
import Synchronization

/// The shared, immutable-after-open description of how to reach etcd: endpoints (tried in turn on
/// connection errors and on a member without a leader), TLS files, credentials and the current auth token. Requests run on a
/// ``CurlConnection`` owned by the calling thread or through the store's ``CurlMultiLoop``; this
/// type only decides where and with what.
final class Gateway: Sendable {
    let endpoints: [String]
    let tls: TLSFiles?
    private let credentials: (user: String, password: String)?
    private let token = Mutex<String?>(nil)
    private let preferred = Atomic<Int>(0)
    /// The endpoints that have answered over HTTP at least once.
    private let answered = EndpointSet()
    /// Set once the store has warned that the server ignores its credentials.
    private let warnedCredentialsUnused = Atomic<Bool>(false)
    let logger: Logger
    /// How long one ordinary request may take before it is a `timeout`.
    let requestTimeout: Duration
    /// The cluster this handle reached first: a reply from another is refused.
    let cluster = ClusterIdentity()

    init(hosts: [String], secure: Bool, tls: TLSFiles?, user: String?, password: String?, requestTimeout: Duration, logger: Logger) {
        let scheme = secure ? "https://" : "http://"
        endpoints = hosts.map { scheme + $0 }
        self.tls = secure ? (tls ?? TLSFiles()) : nil
        // A user comes with a password (StoreCredentials.requirePair, in EtcdStore.init).
        credentials = user.map { ($0, password ?? "") }
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    var usesAuth: Bool { credentials != nil }

    var currentToken: String? { token.withLock { $0 } }

    var preferredEndpoint: Int { preferred.load(ordering: .relaxed) % endpoints.count }

    /// Notes that endpoint `index` answered (any HTTP status): it speaks the scheme the URL says.
    func noteAnswered(_ index: Int) { answered.insert(index) }

    /// Whether endpoint `index` has answered before.
    func hasAnswered(_ index: Int) -> Bool { answered.contains(index) }

    /// Moves on from endpoint `index` after it failed (unless another thread already did).
    func rotateEndpoint(from index: Int) {
        _ = preferred.compareExchange(expected: index, desired: (index + 1) % endpoints.count, ordering: .relaxed)
    }

    /// POSTs `body` to `path` on a connection the calling thread owns and returns the parsed JSON
    /// reply. See ``GatewayCall`` for failover and re-authentication.
    /// - Parameter progress: asked at least once a second while a request waits for its reply,
    ///   and after each endpoint that failed, before the next is tried; returning `false` aborts it.
    func call(
        _ path: String, _ body: JSONValue, on connection: CurlConnection, kind: RequestKind,
        timeout: Duration? = nil, boundsWholeCall: Bool = false, progress: (() -> Bool)? = nil
    ) throws(CoordinationError) -> JSONValue {
        var call = GatewayCall(
            gateway: self, path: path, payload: body.serialized, kind: kind, timeout: timeout ?? requestTimeout, boundsWholeCall: boundsWholeCall)
        while let request = call.nextRequest() {
            let sink = ResponseSink()
            if let progress {
                sink.followsProgress = true
                sink.shouldContinue = progress
            }
            let outcome = Result { () throws(TransportFailure) in try connection.perform(request, sink: sink) }
            // A caller that follows progress (the session's keep-alive) is on a deadline, and its
            // failures are retried, never worded for a user: no probe holds it up.
            switch call.handle(progress == nil ? identifyingSilence(outcome, of: request) : outcome) {
            case .reply(let json): return json
            case .next:
                // A failed endpoint took its time (a timeout): its owner may have to act now.
                if let progress, !progress() { throw call.exhausted }
            case .authenticate(let endpoint):
                // Within the call's own time: a keep-alive's login must leave it time to try again before its lease ends.
                try authenticate(on: connection, endpoint: endpoint, deadline: call.deadline, progress: progress)
            case .waitForLeader(let wait):
                // In steps, so that an owner that must act (a closing handle) is not held up.
                let deadline = ContinuousClock.now.advanced(by: wait)
                while ContinuousClock.now < deadline {
                    if let progress, !progress() { throw call.exhausted }
                    Thread.sleep(forTimeInterval: 0.05)
                }
            case .fail(let error): throw error
            }
        }
        throw call.exhausted
    }

    /// The same call through the store's event loop, awaited without blocking the caller's thread.
    func call(_ path: String, _ body: JSONValue, via loop: CurlMultiLoop, kind: RequestKind) async throws(CoordinationError) -> JSONValue {
        var call = GatewayCall(gateway: self, path: path, payload: body.serialized, kind: kind, timeout: requestTimeout)
        while let request = call.nextRequest() {
            let outcome: CurlMultiLoop.Outcome
            switch await loop.perform(request) {
            case .done(let done): outcome = done
            case .notSent: throw .closed()
            case .cutShort:
                // A read may say the handle is closed; a write may have been applied, or not.
                guard kind.sendsOnce else { throw .closed() }
                throw CoordinationError(.connectionLoss, "the store handle was closed while this write was in flight; it may or may not have been applied")
            }
            switch call.handle(await identifyingSilenceOffPool(outcome, of: request)) {
            case .reply(let json): return json
            case .next: continue
            case .authenticate(let endpoint): try await authenticate(via: loop, endpoint: endpoint, deadline: call.deadline)
            case .waitForLeader(let wait):
                // A cancelled caller stops waiting: the refusal is its answer.
                do { try await Task.sleep(for: wait) } catch { throw call.exhausted }
            case .fail(let error): throw error
            }
        }
        throw call.exhausted
    }

    /// Gets a fresh token for the configured user. A wrong password is `unauthenticated`.
    /// - Parameter progress: as for ``call(_:_:on:kind:timeout:progress:)``: asked at least once a
    ///   second while the login waits, and before each next endpoint; returning `false` abandons
    ///   it (a closing handle is then not held up by a server that never answers).
    /// - Parameter deadline: when the login must end by (the call it renews the token for ends then).
    func authenticate(
        on connection: CurlConnection, endpoint: String? = nil, deadline: ContinuousClock.Instant? = nil, progress: (() -> Bool)? = nil
    ) throws(CoordinationError) {
        var login = GatewayLogin(gateway: self, endpoint: endpoint, deadline: deadline)
        while let request = login.nextRequest() {
            let sink = ResponseSink()
            if let progress {
                sink.followsProgress = true
                sink.shouldContinue = progress
            }
            let outcome = Result { () throws(TransportFailure) in try connection.perform(request, sink: sink) }
            if login.handle(identifyingSilence(outcome, of: request)) { return }
            if let progress, !progress() { break }
        }
        try login.finish()
    }

    func authenticate(via loop: CurlMultiLoop, endpoint: String? = nil, deadline: ContinuousClock.Instant? = nil) async throws(CoordinationError) {
        var login = GatewayLogin(gateway: self, endpoint: endpoint, deadline: deadline)
        while let request = login.nextRequest() {
            guard case .done(let outcome) = await loop.perform(request) else { throw .closed() }
            if login.handle(await identifyingSilenceOffPool(outcome, of: request)) { return }
        }
        try login.finish()
    }

    /// Whether `failure` is an endpoint hanging up without a word, never having answered: a plain
    /// HTTP request with no reply at all, or a TLS handshake cut off. Either is what ZooKeeper's
    /// client port does, and the words for it depend on asking (``ZooKeeperProbe``).
    private func isUnexplainedSilence(_ failure: TransportFailure, at baseURL: String) -> Bool {
        let silent =
            baseURL.hasPrefix("http://")
            ? failure.code == Int(CURLE_GOT_NOTHING.rawValue) : failure.code == Int(CURLE_SSL_CONNECT_ERROR.rawValue)
        guard silent, let index = endpoints.firstIndex(of: baseURL) else { return false }
        return !hasAnswered(index)
    }

    /// Whether `failure` is an `https://` endpoint that never answered hanging up once the TLS
    /// handshake was done, as etcd does (TLS 1.3) on a client certificate it refuses, or none.
    private func isHangUpAfterHandshake(_ failure: TransportFailure, at baseURL: String) -> Bool {
        let hungUp = [CURLE_SEND_ERROR, CURLE_RECV_ERROR].contains { Int($0.rawValue) == failure.code }
        guard hungUp, baseURL.hasPrefix("https://"), let index = endpoints.firstIndex(of: baseURL) else { return false }
        return !hasAnswered(index)
    }

    /// Whether `failure` needs asking the endpoint what it is (``identifyingSilence(_:of:)``).
    private func needsIdentifying(_ failure: TransportFailure, at baseURL: String) -> Bool {
        isUnexplainedSilence(failure, at: baseURL) || isHangUpAfterHandshake(failure, at: baseURL)
    }

    /// `outcome`, with an endpoint that hung up without a word asked whether it is ZooKeeper, and
    /// one that hung up after the TLS handshake whether it refuses the client certificate.
    /// Only on those failure paths; blocks up to a probe's timeout: call it on a thread of your own.
    func identifyingSilence(_ outcome: Result<(status: Int, body: [UInt8]), TransportFailure>, of request: GatewayRequest)
        -> Result<(status: Int, body: [UInt8]), TransportFailure>
    {
        guard case .failure(var failure) = outcome, needsIdentifying(failure, at: request.baseURL) else { return outcome }
        if isHangUpAfterHandshake(failure, at: request.baseURL) {
            failure.clientCertificateRefused = ClientCertificateProbe.refuses(at: request.baseURL, tls: tls)
            failure.clientCertificate = tls?.clientCertificate
            return .failure(failure)
        }
        failure.zooKeeperAnswered = ZooKeeperProbe.answers(at: request.baseURL)
        if !failure.zooKeeperAnswered, request.baseURL.hasPrefix("https://") {
            failure.plainEtcdAnswered = PlainEtcdProbe.answers(at: request.baseURL)
        }
        return .failure(failure)
    }

    /// ``identifyingSilence(_:of:)`` for a caller on the cooperative pool: the probes run on a thread of their own.
    func identifyingSilenceOffPool(_ outcome: Result<(status: Int, body: [UInt8]), TransportFailure>, of request: GatewayRequest) async
        -> Result<(status: Int, body: [UInt8]), TransportFailure>
    {
        guard case .failure(let failure) = outcome, needsIdentifying(failure, at: request.baseURL) else { return outcome }
        return await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: self.identifyingSilence(outcome, of: request)) }
            thread.name = "etcd-endpoint-probe"
            thread.start()
        }
    }

    /// Says, once per store and at warning level, that etcd has auth disabled: whoever gave
    /// credentials expects their keys to be guarded by them, and they are not. The user is named,
    /// the password never.
    func warnCredentialsUnused() {
        guard let credentials, !warnedCredentialsUnused.exchange(true, ordering: .relaxed) else { return }
        logger.warning(
            "etcd has auth disabled, so the credentials are not used and anyone can read and write these keys; enable auth on etcd (etcdctl auth enable) or give no credentials (neither in the store URL nor as the username and password settings)",
            metadata: ["user": "\(credentials.user)"])
    }

    /// Stores a renewed token (or none, when the server has auth disabled).
    func setToken(_ newToken: String?) { token.withLock { $0 = newToken } }

    var userCredentials: (user: String, password: String)? { credentials }

    /// Reads the gateway's `{"error","message","code"}` body. Any other body did not come from an
    /// etcd gateway (a web server or proxy on that port): `endpoint` answered, but not as etcd.
    static func failure(status: Int, reply: [UInt8], endpoint: String) -> GatewayFailure {
        if let json = JSONValue.parse(reply), case .object = json {
            if let streamError = json["error"], case .object = streamError {
                let code = streamError["grpc_code"]?.int64Value.map { Int($0) }
                let httpStatus = streamError["http_code"]?.int64Value.map { Int($0) } ?? status
                return .status(
                    httpStatus, grpcCode: code, message: oneLine(streamError["message"]?.stringValue) ?? excerpt(reply), endpoint: endpoint)
            }
            let message = oneLine(json["message"]?.stringValue ?? json["error"]?.stringValue) ?? excerpt(reply)
            return .status(status, grpcCode: json["code"]?.int64Value.map { Int($0) }, message: message, endpoint: endpoint)
        }
        return .notGateway(status: status, body: excerpt(reply), endpoint: endpoint)
    }

    /// The one way a reply's bytes get into an error: on one line (a message promises one),
    /// control characters and runs of white space as single spaces, cut short.
    static func excerpt(_ bytes: [UInt8], limit: Int = 120) -> String {
        var text = String.UnicodeScalarView()
        var space = false
        for scalar in String(decoding: bytes.prefix(limit * 4), as: UTF8.self).unicodeScalars {
            if scalar.properties.isWhitespace || scalar.properties.generalCategory == .control {
                space = !text.isEmpty
                continue
            }
            if text.count >= limit - 1 { return String(text) + "…" }
            if space { text.append(" ") }
            space = false
            text.append(scalar)
        }
        let line = String(text)
        return bytes.count > limit * 4 ? line + "…" : line
    }

    /// ``excerpt(_:limit:)`` of a text the gateway sent inside its JSON; `nil` when it says nothing.
    static func oneLine(_ text: String?) -> String? {
        guard let text else { return nil }
        let line = excerpt(Array(text.utf8))
        return line.isEmpty ? nil : line
    }
}

extension Gateway {
    /// How a streaming request ended.
    enum StreamEnd {
        /// The transfer failed (connection refused, reset, server gone); the next attempt uses the next endpoint.
        case failed(TransportFailure)
        /// The server ended the stream, or the sink aborted it.
        case ended
    }

    /// POSTs `body` to `path` on endpoint `index` (the caller reads ``preferredEndpoint`` first, so
    /// that its sink knows which member speaks, and can move on from it with
    /// ``rotateEndpoint(from:)`` when the stream's own messages say that member cannot serve) and
    /// feeds the reply to `sink` line by line, without a time limit, until the server ends it,
    /// the connection fails or `sink` aborts. The gateway ends a stream's last message, an error
    /// included, without a newline: it is left in `sink.leftover`.
    func stream(_ path: String, _ body: JSONValue, on connection: CurlConnection, sink: ResponseSink, endpoint index: Int) -> StreamEnd {
        let request = GatewayRequest(
            baseURL: endpoints[index], path: path, body: body.serialized, token: currentToken, timeout: .zero)
        do {
            _ = try connection.perform(request, sink: sink)
            return .ended
        } catch {
            if error.code == Int(CURLE_WRITE_ERROR.rawValue) || error.code == Int(CURLE_ABORTED_BY_CALLBACK.rawValue) {
                return .ended
            }
            rotateEndpoint(from: index)
            return .failed(error)
        }
    }
}
