import CCurl
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

    /// `true` when the request certainly never reached the server (so a write may be retried elsewhere).
    var neverSent: Bool {
        // Connection set-up failures, TLS handshakes included: nothing of the request went out.
        let setUp: [CURLcode] = [
            CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_SSL_CONNECT_ERROR,
            CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CIPHER,
        ]
        return setUp.contains { Int($0.rawValue) == code }
    }

    var timedOut: Bool { code == Int(CURLE_OPERATION_TIMEDOUT.rawValue) }
}

/// One HTTP POST: a path on the gateway, a JSON body, an optional raw `Authorization` token.
struct GatewayRequest: Sendable {
    var baseURL: String
    var path: String
    var body: [UInt8]
    var token: String?
    var timeout: Duration
}

/// Receives a transfer's bytes. For a streaming transfer it also hands every complete line to
/// `onLine` and lets the owner abort by returning `false` (or through `shouldContinue`).
final class ResponseSink {
    var body: [UInt8] = []
    var onLine: ((ArraySlice<UInt8>) -> Bool)?
    var shouldContinue: () -> Bool = { true }
    private var pending: [UInt8] = []

    func receive(_ chunk: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let onLine else {
            body.append(contentsOf: chunk)
            return true
        }
        pending.append(contentsOf: chunk)
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending[..<newline]
            let keepGoing = line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) ? true : onLine(line)
            pending.removeSubrange(...newline)
            if !keepGoing { return false }
        }
        return shouldContinue()
    }

    /// The unterminated rest of a stream (a truncated line), for error messages.
    var leftover: [UInt8] { pending }
}

/// One curl easy handle, reused across requests so its connection stays alive.
/// Used by exactly one thread at a time (the thread that owns it); never on the cooperative pool.
final class CurlConnection {
    private let handle: UnsafeMutableRawPointer
    private let tls: TLSFiles?

    init(tls: TLSFiles?) {
        CurlGlobal.ensureInitialized()
        guard let handle = curl_easy_init() else {
            // curl_easy_init only fails when memory is exhausted; nothing sensible is left to do.
            fatalError("curl_easy_init failed")
        }
        self.handle = handle
        self.tls = tls
    }

    deinit { curl_easy_cleanup(handle) }

    /// Performs `request` and returns the HTTP status and body, or throws a ``TransportFailure``.
    /// With `sink.onLine` set, the body is delivered line by line instead (a watch stream).
    func perform(_ request: GatewayRequest, sink: ResponseSink = ResponseSink()) throws(TransportFailure) -> (status: Int, body: [UInt8]) {
        curl_easy_reset(handle)
        var headers: UnsafeMutablePointer<curl_slist>? = nil
        headers = curl_slist_append(headers, "Content-Type: application/json")
        // The gateway wants the raw token, not "Bearer <token>".
        if let token = request.token { headers = curl_slist_append(headers, "Authorization: \(token)") }
        defer { curl_slist_free_all(headers) }

        _ = ccurl_setopt_string(handle, CURLOPT_URL, request.baseURL + request.path)
        _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_POST, 1)
        _ = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers)
        _ = ccurl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_TCP_KEEPIDLE, 5)
        _ = ccurl_setopt_long(handle, CURLOPT_TCP_KEEPINTVL, 2)
        _ = ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 2_000)
        let timeoutMs = request.timeout.components.seconds * 1000 + request.timeout.components.attoseconds / 1_000_000_000_000_000
        _ = ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeoutMs))
        if let tls {
            if let ca = tls.caCertificate { _ = ccurl_setopt_string(handle, CURLOPT_CAINFO, ca) }
            if let cert = tls.clientCertificate { _ = ccurl_setopt_string(handle, CURLOPT_SSLCERT, cert) }
            if let key = tls.clientKey { _ = ccurl_setopt_string(handle, CURLOPT_SSLKEY, key) }
        }
        let context = Unmanaged.passUnretained(sink).toOpaque()
        _ = ccurl_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            guard let data, let context else { return 0 }
            let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
            let bytes = UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self)
            return sink.receive(UnsafeBufferPointer(start: bytes, count: size * count)) ? size * count : 0
        }
        _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        if sink.onLine != nil {
            // An idle stream calls no write callback; the progress callback runs at least once a
            // second, so cancelling a quiet watch still ends its transfer promptly.
            _ = ccurl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
            _ = ccurl_setopt_progress_callback(handle) { context, _, _, _, _ in
                guard let context else { return 1 }
                let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
                return sink.shouldContinue() ? 0 : 1
            }
            _ = ccurl_setopt_pointer(handle, CURLOPT_XFERINFODATA, context)
        }

        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = request.body.withUnsafeBufferPointer { body in
            errorBuffer.withUnsafeMutableBufferPointer { errorBytes in
                _ = ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBytes.baseAddress)
                _ = ccurl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
                _ = ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: body.baseAddress))
                let code = curl_easy_perform(handle)
                // The buffers are about to go away: make sure curl keeps no pointer to them.
                _ = ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, nil)
                _ = ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, nil)
                return code
            }
        }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let text = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw TransportFailure(code: Int(code.rawValue), message: text)
        }
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return (status, sink.body)
    }
}

/// `curl_global_init` must run once, before any other thread uses curl.
enum CurlGlobal {
    private static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()

    static func ensureInitialized() { _ = initialized }
}
