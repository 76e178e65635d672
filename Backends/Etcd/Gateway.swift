import CCurl
import Coordination
import Logging
import Synchronization

/// The shared, immutable-after-open description of how to reach etcd: endpoints (tried in turn on
/// connection errors), TLS files, credentials and the current auth token. Requests run on a
/// ``CurlConnection`` owned by the calling thread; this type only decides where and with what.
final class Gateway: Sendable {
    let endpoints: [String]
    let tls: TLSFiles?
    private let credentials: (user: String, password: String)?
    private let token = Mutex<String?>(nil)
    private let preferred = Atomic<Int>(0)
    let logger: Logger
    /// How long one ordinary request may take before it is a `timeout`.
    let requestTimeout: Duration

    init(hosts: [String], secure: Bool, tls: TLSFiles?, user: String?, password: String?, requestTimeout: Duration, logger: Logger) {
        let scheme = secure ? "https://" : "http://"
        endpoints = hosts.map { scheme + $0 }
        self.tls = secure ? (tls ?? TLSFiles()) : nil
        credentials = user.map { ($0, password ?? "") }
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    var usesAuth: Bool { credentials != nil }

    var currentToken: String? { token.withLock { $0 } }

    var preferredEndpoint: Int { preferred.load(ordering: .relaxed) % endpoints.count }

    /// Moves on from endpoint `index` after it failed (unless another thread already did).
    func rotateEndpoint(from index: Int) {
        _ = preferred.compareExchange(expected: index, desired: (index + 1) % endpoints.count, ordering: .relaxed)
    }

    /// POSTs `body` to `path` and returns the parsed JSON reply.
    ///
    /// Connection errors move on to the next endpoint (for writes only when the request surely
    /// never left); a 401 re-authenticates once and retries (tokens expire).
    func call(
        _ path: String, _ body: JSONValue, on connection: CurlConnection, kind: RequestKind,
        timeout: Duration? = nil
    ) throws(CoordinationError) -> JSONValue {
        let payload = body.serialized
        var lastFailure: GatewayFailure?
        var reauthenticated = false
        var attempt = 0
        let first = preferredEndpoint
        while attempt < endpoints.count {
            let index = (first + attempt) % endpoints.count
            let endpoint = endpoints[index]
            let request = GatewayRequest(
                baseURL: endpoint, path: path, body: payload, token: token.withLock { $0 },
                timeout: timeout ?? requestTimeout)
            let status: Int
            let reply: [UInt8]
            do {
                (status, reply) = try connection.perform(request)
            } catch {
                lastFailure = .transport(error, endpoint: endpoint)
                if kind == .write && (!error.neverSent || error.timedOut) {
                    // This write may have been applied, so it is not sent again; but the endpoint
                    // failed, so later requests start at the next one.
                    rotateEndpoint(from: index)
                    break
                }
                logger.debug("etcd endpoint failed, trying the next", metadata: ["endpoint": "\(endpoint)", "error": "\(error.message)"])
                attempt += 1
                rotateEndpoint(from: index)
                continue
            }
            if status == 200 {
                guard let json = JSONValue.parse(reply), case .object = json else {
                    throw .gateway(.malformed("\(path) answered \(reply.count) bytes that are not a JSON object: \(Self.excerpt(reply))"), kind: kind)
                }
                // Streaming endpoints (lease keep-alive) report errors inside a 200 reply.
                guard case .object = json["error"] else { return json }
            }
            let failure = Self.failure(status: status, reply: reply)
            if case .status(_, let grpcCode, _) = failure, grpcCode == 16 || (grpcCode == nil && status == 401),
                credentials != nil, !reauthenticated
            {
                reauthenticated = true
                try authenticate(on: connection, endpoint: endpoint)
                continue
            }
            // A member without a leader (an election under way) cannot serve; another may.
            if case .status(_, 14?, _) = failure, kind == .read, endpoints.count > 1 {
                lastFailure = failure
                attempt += 1
                rotateEndpoint(from: index)
                continue
            }
            throw .gateway(failure, kind: kind)
        }
        throw .gateway(lastFailure ?? .malformed("no endpoint configured"), kind: kind)
    }

    /// Gets a fresh token for the configured user. A wrong password is `unauthenticated`.
    func authenticate(on connection: CurlConnection, endpoint: String? = nil) throws(CoordinationError) {
        guard let credentials else { return }
        let body: JSONValue = ["name": .string(credentials.user), "password": .string(credentials.password)]
        var lastFailure: GatewayFailure?
        for candidate in endpoint.map({ [$0] }) ?? endpoints {
            let request = GatewayRequest(baseURL: candidate, path: "/v3/auth/authenticate", body: body.serialized, token: nil, timeout: requestTimeout)
            do {
                let (status, reply) = try connection.perform(request)
                guard status == 200 else {
                    let failure = Self.failure(status: status, reply: reply)
                    if case .status(_, 9?, let message) = failure, message.contains("not enabled") {
                        // Credentials for a server without auth: nothing to authenticate, carry on.
                        logger.debug("etcd auth is not enabled; the credentials are not used")
                        token.withLock { $0 = nil }
                        return
                    }
                    throw GatewayError(failure: failure)
                }
                guard let json = JSONValue.parse(reply), let newToken = json["token"]?.stringValue else {
                    throw GatewayError(failure: .malformed("an authenticate reply without a token: \(Self.excerpt(reply))"))
                }
                token.withLock { $0 = newToken }
                logger.debug("etcd token renewed")
                return
            } catch let error as TransportFailure {
                lastFailure = .transport(error, endpoint: candidate)
            } catch let error as GatewayError {
                throw .gateway(error.failure, kind: .read)
            } catch {
                lastFailure = .malformed("\(error)")
            }
        }
        throw .gateway(lastFailure ?? .malformed("no endpoint configured"), kind: .read)
    }

    private struct GatewayError: Error { var failure: GatewayFailure }

    /// Reads the gateway's `{"error","message","code"}` body; anything else is described as it came.
    static func failure(status: Int, reply: [UInt8]) -> GatewayFailure {
        if let json = JSONValue.parse(reply), case .object = json {
            if let streamError = json["error"], case .object = streamError {
                let code = streamError["grpc_code"]?.int64Value.map { Int($0) }
                let httpStatus = streamError["http_code"]?.int64Value.map { Int($0) } ?? status
                return .status(httpStatus, grpcCode: code, message: streamError["message"]?.stringValue ?? excerpt(reply))
            }
            let message = json["message"]?.stringValue ?? json["error"]?.stringValue ?? excerpt(reply)
            return .status(status, grpcCode: json["code"]?.int64Value.map { Int($0) }, message: message)
        }
        return .status(status, grpcCode: nil, message: excerpt(reply))
    }

    static func excerpt(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(200), as: UTF8.self)
        return bytes.count > 200 ? text + "…" : text
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

    /// POSTs `body` to `path` on the current endpoint and feeds the reply to `sink` line by line,
    /// without a time limit, until the server ends it, the connection fails or `sink` aborts.
    func stream(_ path: String, _ body: JSONValue, on connection: CurlConnection, sink: ResponseSink) -> StreamEnd {
        let index = preferredEndpoint
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
