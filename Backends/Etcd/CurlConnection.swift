import CCurl
import Coordination
import Foundation

/// Where and how to reach the gateway: one endpoint's base URL plus TLS files.
struct TLSFiles: Sendable, Hashable {
    var caCertificate: String?
    var clientCertificate: String?
    var clientKey: String?
}

/// What a transfer failed with before any HTTP reply was read: curl's own code and words.
struct TransportFailure: Error, Sendable {
    var code: Int
    var message: String
    /// Whether curl began to send the request (its connection was up) before it failed.
    var requestWentOut = false
    /// Whether the endpoint had answered over this scheme before: then an empty reply is a
    /// dropped connection, not a TLS port spoken to in plain HTTP.
    var endpointAnsweredBefore = false
    /// Whether the endpoint, asked after it hung up without a word, answered a ZooKeeper
    /// handshake (``ZooKeeperProbe``): ZooKeeper's client port, not etcd's.
    var zooKeeperAnswered = false
    /// Whether the endpoint, an `https://` one that cut the TLS handshake off, answered plain
    /// HTTP as etcd does (``PlainEtcdProbe``): etcd without TLS there.
    var plainEtcdAnswered = false
    /// Whether the endpoint, an `https://` one that hung up on the request after the TLS
    /// handshake, refuses the client certificate given (or the lack of one) on a handshake
    /// made to check (``ClientCertificateProbe``): etcd with `--client-cert-auth`.
    var clientCertificateRefused = false
    /// The client certificate the refused connection offered, to name in the message.
    var clientCertificate: String?

    /// `true` when the request certainly never reached the server (so a write may be retried elsewhere).
    var neverSent: Bool {
        // Connection set-up failures, TLS handshakes included: nothing of the request went out,
        // unless an earlier attempt of the same transfer sent it (curl retries a request whose
        // reused connection died on a fresh connection, and that connect may be what failed).
        // A timeout before any attempt went out is a connect that never finished (a host that
        // drops packets, a member that accepts nothing).
        let setUp: [CURLcode] = [
            CURLE_OPERATION_TIMEDOUT,
            CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_SSL_CONNECT_ERROR,
            CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CIPHER,
            CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS,
            CURLE_SSL_CLIENTCERT,
        ]
        return !requestWentOut && setUp.contains { Int($0.rawValue) == code }
    }

    var timedOut: Bool { code == Int(CURLE_OPERATION_TIMEDOUT.rawValue) }

    /// Why the server's certificate failed verification, from OpenSSL's words in curl's message:
    /// expired, or made out to other names, each fixed elsewhere than the CA a client trusts.
    private func untrustedServerCertificate(at endpoint: String) -> String {
        if message.contains("certificate has expired") || message.contains("certificate is not yet valid") {
            let when = message.contains("expired") ? "has expired" : "is not valid yet"
            return "the certificate etcd at \(endpoint) presents \(when); renew it on the server, or check this machine's clock"
        }
        if message.contains("subject name") || message.contains("does not match target host name") {
            let host = message.split(separator: "'").dropFirst().first.map { "'\($0)'" } ?? "this host"
            return "the certificate etcd at \(endpoint) presents is not made out to \(host); write a host name or address it names "
                + "in its subjectAltName (openssl s_client -connect HOST:PORT </dev/null | openssl x509 -noout -ext subjectAltName "
                + "lists them), or reissue it with \(host) among them"
        }
        return "etcd's certificate is not trusted; is cacert= (--tls-ca) the CA that signed it? (without cacert=, the system's "
            + "CA certificates are used)"
    }

    /// What a TLS failure says about the configuration, in words that name the setting to check,
    /// and whether it is certainly a configuration problem (trying again cannot cure it); `nil`
    /// for a failure that is not about TLS. `endpoint` is where the failure happened, for a
    /// refusal to name (``RefusingServer``).
    func tlsProblem(at endpoint: String) -> (message: String, isConfiguration: Bool)? {
        func any(_ codes: [CURLcode]) -> Bool { codes.contains { Int($0.rawValue) == code } }
        if any([CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CRL_BADFILE]) {
            return ("the TLS files cannot be used; do cacert=, cert= and key= (--tls-ca, --tls-cert, --tls-key) name readable PEM files that belong together?", true)
        }
        if any([CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS]) {
            return (untrustedServerCertificate(at: endpoint), true)
        }
        if clientCertificateRefused {
            let server = RefusingServer.etcd(endpoint)
            let takes = "it runs with --client-cert-auth, and takes a certificate signed by a CA in its --trusted-ca-file, "
                + "unexpired, and made for client authentication (extendedKeyUsage clientAuth)"
            if let clientCertificate {
                return (server.refused("the client certificate cert=\(clientCertificate) (--tls-cert) in the TLS handshake", because: takes), true)
            }
            return (server.refused("a connection without a client certificate", because: takes + "; give one with cert= and key= (--tls-cert, --tls-key)"), true)
        }
        if any([CURLE_SSL_CLIENTCERT]) {
            return ("etcd wants a client certificate; give cert= and key= (--tls-cert, --tls-key)", true)
        }
        if any([CURLE_SSL_CONNECT_ERROR]) {
            // Also what a server restarting mid-handshake looks like: not certainly configuration.
            return ("the TLS handshake with etcd failed; does it serve TLS on this port, and does it want a client certificate (cert=, key=)?", false)
        }
        return nil
    }
}

/// One HTTP POST: a path on the gateway, a JSON body, an optional raw `Authorization` token.
struct GatewayRequest: Sendable {
    var baseURL: String
    var path: String
    var body: [UInt8]
    var token: String?
    var timeout: Duration
    /// The request goes out at most once. libcurl resends a POST by itself when the kept-alive
    /// connection it reused dies before any reply, on a fresh connection: harmless for a read, but
    /// a write the server applied before it died would be applied twice (a create then fails with
    /// `nodeExists` although it succeeded). Set for writes.
    var sendsOnce = false
}

/// Receives a transfer's bytes. For a streaming transfer it also hands every complete line to
/// `onLine` and lets the owner abort by returning `false` (or through `shouldContinue`).
final class ResponseSink {
    var body: [UInt8] = []
    var onLine: ((ArraySlice<UInt8>) -> Bool)?
    var shouldContinue: () -> Bool = { true }
    /// Whether curl asks `shouldContinue` at least once a second during a plain request too (a
    /// stream always does): so that its owner can act while the reply is late, or abort it.
    var followsProgress = false
    private var pending: [UInt8] = []

    func receive(_ chunk: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let onLine else {
            body.append(contentsOf: chunk)
            return true
        }
        // Only the new bytes are searched, and the lines handed on are dropped once: a long
        // line (a 1 MB value's event) arrives in many chunks, and scanning all of it again for
        // each made its cost grow with its length squared.
        var searchFrom = pending.count
        pending.append(contentsOf: chunk)
        var lineStart = 0
        defer {
            pending.removeSubrange(..<lineStart)
        }
        while let newline = pending[searchFrom...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending[lineStart..<newline]
            let keepGoing = line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) ? true : onLine(line)
            lineStart = newline + 1
            searchFrom = lineStart
            if !keepGoing { return false }
        }
        return shouldContinue()
    }

    /// The unterminated rest of a stream (a truncated line), for error messages.
    var leftover: [UInt8] { pending }
}

/// A curl easy handle set up for gateway requests: the options that never change are set once,
/// and a request only sets what differs from the last one (URL, timeout), because
/// `curl_easy_reset` and a dozen options per request showed in the client's profile.
final class CurlEasy {
    let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let attempts = SendAttempts()
    private var url: String?
    private var timeout: Int?

    init(tls: TLSFiles?) {
        CurlGlobal.ensureInitialized()
        guard let handle = curl_easy_init() else {
            // curl_easy_init only fails when memory is exhausted; nothing sensible is left to do.
            fatalError("curl_easy_init failed")
        }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        CurlOptions.applyFixed(handle, tls: tls, errorBuffer: errorBuffer)
        _ = ccurl_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            guard let data, let context else { return 0 }
            let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
            let bytes = UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self)
            return sink.receive(UnsafeBufferPointer(start: bytes, count: size * count)) ? size * count : 0
        }
        _ = ccurl_setopt_prereq_callback(handle) { context, _, _, _, _ in
            guard let context else { return CURL_PREREQFUNC_OK }
            return Unmanaged<SendAttempts>.fromOpaque(context).takeUnretainedValue().mayStart() ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT
        }
        _ = ccurl_setopt_pointer(handle, CURLOPT_PREREQDATA, Unmanaged.passUnretained(attempts).toOpaque())
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Points the handle at `request` (all but its body) and at `sink` for the reply.
    func prepare(_ request: GatewayRequest, headers: CurlHeaders, sink: ResponseSink) {
        let url = request.baseURL + request.path
        if url != self.url {
            _ = ccurl_setopt_string(handle, CURLOPT_URL, url)
            self.url = url
        }
        let timeout = CurlOptions.milliseconds(request.timeout)
        if timeout != self.timeout {
            _ = ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeout)
            self.timeout = timeout
        }
        _ = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers.list(token: request.token))
        _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
        errorBuffer[0] = 0
    }

    /// Gives curl `request`'s body (curl copies it) and whether it may be sent more than once.
    func setBody(of request: GatewayRequest) {
        attempts.start(sendsOnce: request.sendsOnce)
        _ = ccurl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, request.body.count)
        if request.body.isEmpty {
            _ = ccurl_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, "")
        } else {
            request.body.withUnsafeBufferPointer { body in
                _ = ccurl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: body.baseAddress))
            }
        }
    }

    /// Forgets the sink of the transfer that just ended.
    func finish() { _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, nil) }

    /// The outcome of the transfer that just ended with `code`.
    func outcome(_ code: CURLcode, sink: ResponseSink) -> Result<(status: Int, body: [UInt8]), TransportFailure> {
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            return .failure(TransportFailure(
                code: Int(code.rawValue), message: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail,
                requestWentOut: attempts.count > 0))
        }
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success((status, sink.body))
    }
}

/// One kept-alive connection for a thread that owns it (the session keeper, a watch): requests
/// block that thread, so it is never used on the cooperative pool.
final class CurlConnection {
    private let easy: CurlEasy
    private let headers = CurlHeaders()
    private var streaming = false

    init(tls: TLSFiles?) { easy = CurlEasy(tls: tls) }

    /// Makes every handshake of this connection TLS 1.2 at most (for ``ClientCertificateProbe``).
    func limitToTLS12() {
        _ = ccurl_setopt_long(easy.handle, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2)
    }

    /// Performs `request` and returns the HTTP status and body, or throws a ``TransportFailure``.
    /// With `sink.onLine` set, the body is delivered line by line instead (a watch stream).
    func perform(_ request: GatewayRequest, sink: ResponseSink = ResponseSink()) throws(TransportFailure) -> (status: Int, body: [UInt8]) {
        let handle = easy.handle
        easy.prepare(request, headers: headers, sink: sink)
        let streams = sink.onLine != nil || sink.followsProgress
        if streams || streaming {
            // An idle stream calls no write callback; the progress callback runs at least once a
            // second, so cancelling a quiet watch still ends its transfer promptly.
            _ = ccurl_setopt_long(handle, CURLOPT_NOPROGRESS, streams ? 0 : 1)
            _ = ccurl_setopt_progress_callback(handle) { context, _, _, _, _ in
                guard let context else { return 1 }
                let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
                return sink.shouldContinue() ? 0 : 1
            }
            _ = ccurl_setopt_pointer(handle, CURLOPT_XFERINFODATA, streams ? Unmanaged.passUnretained(sink).toOpaque() : nil)
            streaming = streams
        }
        easy.setBody(of: request)
        let code = curl_easy_perform(handle)
        let outcome = easy.outcome(code, sink: sink)
        easy.finish()
        return try outcome.get()
    }
}

/// How many times curl was about to send the current request (its pre-request callback): more
/// than once is curl retrying on a fresh connection, which a send-once request refuses.
final class SendAttempts {
    private(set) var count = 0
    private var sendsOnce = false

    func start(sendsOnce: Bool) {
        self.sendsOnce = sendsOnce
        count = 0
    }

    /// Counts an attempt; `false` when it is a second attempt of a send-once request.
    func mayStart() -> Bool {
        count += 1
        return count == 1 || !sendsOnce
    }
}

/// The options every request handle shares, set once per handle.
enum CurlOptions {
    static func applyFixed(_ handle: UnsafeMutableRawPointer, tls: TLSFiles?, errorBuffer: UnsafeMutablePointer<CChar>) {
        _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_POST, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_TCP_KEEPIDLE, 5)
        _ = ccurl_setopt_long(handle, CURLOPT_TCP_KEEPINTVL, 2)
        _ = ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 2_000)
        _ = ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        // Straight to etcd, as the ZooKeeper client goes to its servers: curl would otherwise
        // take a proxy from the environment (http_proxy, HTTPS_PROXY, ALL_PROXY), usually set
        // for other traffic, and a proxy's refusal read as etcd not running.
        _ = ccurl_setopt_string(handle, CURLOPT_PROXY, "")
        if let tls {
            if let ca = tls.caCertificate { _ = ccurl_setopt_string(handle, CURLOPT_CAINFO, ca) }
            if let cert = tls.clientCertificate { _ = ccurl_setopt_string(handle, CURLOPT_SSLCERT, cert) }
            if let key = tls.clientKey { _ = ccurl_setopt_string(handle, CURLOPT_SSLKEY, key) }
            // An empty passphrase: OpenSSL would otherwise ask for an encrypted key's on the
            // terminal (``EtcdConfiguration/checkTLSFiles()`` refuses one before this).
            _ = ccurl_setopt_string(handle, CURLOPT_KEYPASSWD, "")
        }
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// The request headers, built once per token rather than once per request. curl reads the list
/// during each transfer, so a list stays alive until this object goes.
final class CurlHeaders {
    private var token: String?
    private var current: UnsafeMutablePointer<curl_slist>?
    private var retired: [UnsafeMutablePointer<curl_slist>] = []

    init() { current = Self.build(token: nil) }

    deinit {
        curl_slist_free_all(current)
        for list in retired { curl_slist_free_all(list) }
    }

    /// The list for `token`; a new token (they are renewed rarely) builds a new one.
    func list(token: String?) -> UnsafeMutablePointer<curl_slist>? {
        if token != self.token {
            if let current { retired.append(current) }
            current = Self.build(token: token)
            self.token = token
        }
        return current
    }

    private static func build(token: String?) -> UnsafeMutablePointer<curl_slist>? {
        var headers = curl_slist_append(nil, "Content-Type: application/json")
        // gRPC metadata `hasleader: true` (clientv3.WithRequireLeader), which the gateway passes
        // on from this header: a member cut off from its cluster's leader then refuses at once
        // with "etcdserver: no leader" (code 14) instead of answering nothing (a watch, a
        // keep-alive) or timing out (a read; a write, whose fate would then be unknown), and
        // cancels open streams after about three election timeouts without one. Every request
        // carries it, so that each fails over to a member that can serve it (``GatewayCall``):
        // the refusal comes before any proposal, so even a write is safe to send elsewhere.
        headers = curl_slist_append(headers, "Grpc-Metadata-hasleader: true")
        // The gateway wants the raw token, not "Bearer <token>".
        if let token { headers = curl_slist_append(headers, "Authorization: \(token)") }
        return headers
    }
}

/// `curl_global_init` must run once, before any other thread uses curl.
enum CurlGlobal {
    private static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()

    static func ensureInitialized() { _ = initialized }

    /// `libcurl 7.88.1 (OpenSSL/3.0.15)`: the library found at run time, and its TLS library,
    /// which decides the certificate formats etcds:// takes.
    static var libraryVersion: String {
        ensureInitialized()
        guard let info = ccurl_version_info()?.pointee, let version = info.version else { return "libcurl" }
        let tls = info.ssl_version.map { " (" + String(cString: $0) + ")" } ?? ""
        return "libcurl " + String(cString: version) + tls
    }
}
