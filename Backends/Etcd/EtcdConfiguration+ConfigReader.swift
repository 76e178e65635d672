public import Configuration
public import Coordination
import CoordinationConfigReading

extension EtcdConfiguration {
    /// Reads the configuration from a swift-configuration reader (environment variables, a JSON
    /// file, …). The keys `coord`'s config file has too (`namespace`, `sessionTtl`, `username`,
    /// `password`, `tlsCa`, `tlsCert`, `tlsKey`) have the same names there; `coord` takes the
    /// servers from its store URL instead.
    ///
    /// ## Configuration keys
    /// - `endpoints` (string list, required): the members as `host:port` entries (port 2379 when
    ///   an entry names none).
    /// - `namespace` (string, optional, default `/`): every key lives under this prefix.
    /// - `sessionTtl` (string, optional, default `10s`): the lease's time to live, as `1s`, `10s`,
    ///   `2m`, from 1s to 1d (``CoordinationLimits/sessionTTLRange``).
    /// - `username` (string, optional): the etcd user. Needs `password`.
    /// - `password` (string, optional, secret): the etcd user's password, not empty; needs `username`.
    /// - `secure` (bool, optional, default: `true` when a TLS file is given, else `false`): https.
    /// - `tlsCa`, `tlsCert`, `tlsKey` (string, optional): PEM files (CA, client certificate and key);
    ///   only with `secure`.
    /// - `requestTimeout` (string, optional, default `10s`): how long one request may take.
    /// - `connections` (int, optional, default `64`, at least 1): requests in flight at once.
    ///
    /// Scope the reader to read them under a prefix: `config.scoped(to: "etcd")` reads
    /// `etcd.endpoints` (`ETCD_ENDPOINTS` from the environment).
    /// - Throws: `invalidConfiguration` naming the key for a missing `endpoints` or a bad value;
    ///   the password's value never appears in it.
    public init(config: ConfigReader) throws(CoordinationError) {
        let endpoints = try config.serversSetting("endpoints", of: "etcd members", defaultPort: Self.defaultPort)
        let (user, password) = try config.credentialSettings()
        let ca = try config.stringSetting("tlsCa")
        let certificate = try config.stringSetting("tlsCert")
        let key = try config.stringSetting("tlsKey")
        let tlsFiles = [("tlsCa", ca), ("tlsCert", certificate), ("tlsKey", key)].filter { $0.1 != nil }.map(\.0)
        let secure = try config.boolSetting("secure") ?? !tlsFiles.isEmpty
        if !secure, let first = tlsFiles.first {
            throw config.invalidSetting(first, "applies only when 'secure' is true")
        }
        self.init(
            endpoints: endpoints, namespace: try config.keySetting("namespace") ?? .root,
            sessionTTL: try config.sessionTTLSetting("sessionTtl") ?? Self.defaultSessionTTL, secure: secure,
            caCertificate: ca, clientCertificate: certificate, clientKey: key, user: user, password: password,
            requestTimeout: try config.durationSetting("requestTimeout") ?? Self.defaultRequestTimeout,
            connections: try config.intSetting("connections", minimum: 1) ?? Self.defaultConnections)
    }
}
