import CCurl
import Coordination

/// Telling a refused client certificate from a dropped connection, after an `etcds://` endpoint
/// hung up on a request once the TLS handshake was done.
///
/// etcd with `--client-cert-auth` checks the client's certificate after a TLS 1.3 handshake has
/// finished on the client's side, and hangs up on one it refuses (or on none) as the request goes
/// out: curl sees a send or receive failure, which read as "cannot reach etcd; is the server
/// running?". In TLS 1.2 the same check is part of the handshake, and the refusal comes back as
/// the server's "bad certificate" alert: so one handshake in TLS 1.2, with the same files, tells.
///
/// Only the failure path asks, once per failed request, bounded by ``timeout``, on the thread
/// that met the failure or one of its own.
enum ClientCertificateProbe {
    /// How long the handshake may take: etcd answers on loopback in a few milliseconds.
    static let timeout = Duration.seconds(1)

    /// What OpenSSL's message holds for a server's alert that refuses the client's certificate.
    static let refusalAlerts = ["alert bad certificate", "alert certificate required", "alert unknown ca", "alert certificate expired"]

    /// Whether `failure`, of a TLS 1.2 handshake, is the server refusing the client's certificate.
    static func isRefusal(_ failure: TransportFailure) -> Bool {
        failure.code == Int(CURLE_SSL_CONNECT_ERROR.rawValue) && refusalAlerts.contains { failure.message.contains($0) }
    }

    /// Whether the server at `endpoint` (`https://host:port`) refuses `tls`'s client certificate,
    /// or the lack of one, in a TLS 1.2 handshake. Blocks up to ``timeout``: call it on a thread of
    /// your own.
    static func refuses(at endpoint: String, tls: TLSFiles?) -> Bool {
        let connection = CurlConnection(tls: tls)
        connection.limitToTLS12()
        // The handshake is what is asked: any HTTP reply, even a refusal of the method, passes it.
        let request = GatewayRequest(baseURL: endpoint, path: "/version", body: [], token: nil, timeout: timeout)
        do {
            _ = try connection.perform(request)
            return false
        } catch {
            return isRefusal(error)
        }
    }
}
