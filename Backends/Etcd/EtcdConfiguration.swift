public import Coordination

/// Where and how an ``EtcdStore`` connects: the settings of
/// ``EtcdStore/init(endpoints:namespace:ttl:secure:caCertificate:clientCertificate:clientKey:user:password:requestTimeout:connections:logger:)``
/// as one value, to build by hand or read from a swift-configuration `ConfigReader` with
/// ``init(config:)`` (keys `endpoints`, `namespace`, `sessionTtl`, `username`, `password`,
/// `secure`, `tlsCa`, `tlsCert`, `tlsKey`, `requestTimeout`, `connections`; documented there).
public struct EtcdConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// `host:port` entries, tried in turn when one cannot be reached.
    public var endpoints: [String]
    /// Every key lives under this prefix; ``Key/root`` for none.
    public var namespace: Key
    /// The session's (lease's) time to live.
    public var sessionTTL: Duration
    /// `https` instead of `http`, with the TLS files below.
    public var secure: Bool
    /// PEM files: the CA that signed the server's certificate, and a client certificate and key.
    public var caCertificate: String?
    public var clientCertificate: String?
    public var clientKey: String?
    /// etcd auth: the store logs in and renews its token when it expires.
    public var user: String?
    public var password: String?
    /// How long one request may take.
    public var requestTimeout: Duration
    /// How many requests may be in flight at once (one owned thread and connection each).
    public var connections: Int

    public static let defaultSessionTTL: Duration = .seconds(10)
    /// The port of an endpoint that names none: etcd's client port.
    public static let defaultPort = StoreURL.defaultPorts["etcd", default: 2379]
    public static let defaultRequestTimeout: Duration = .seconds(10)
    public static let defaultConnections = 64

    public init(
        endpoints: [String], namespace: Key = .root, sessionTTL: Duration = defaultSessionTTL, secure: Bool = false,
        caCertificate: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil,
        user: String? = nil, password: String? = nil, requestTimeout: Duration = defaultRequestTimeout,
        connections: Int = defaultConnections
    ) {
        self.endpoints = endpoints
        self.namespace = namespace
        self.sessionTTL = sessionTTL
        self.secure = secure
        self.caCertificate = caCertificate
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.user = user
        self.password = password
        self.requestTimeout = requestTimeout
        self.connections = connections
    }

    /// The store URL this configuration amounts to (TLS files as options); never shows the password.
    public var description: String {
        var text = secure ? "etcds://" : "etcd://"
        if let user { text += user + (password == nil ? "" : ":***") + "@" }
        text += endpoints.joined(separator: ",") + (namespace.isRoot ? "" : namespace.path)
        var options = ["ttl=" + DurationText.format(sessionTTL)]
        if requestTimeout != Self.defaultRequestTimeout { options.append("timeout=" + DurationText.format(requestTimeout)) }
        for (name, file) in [("cacert", caCertificate), ("cert", clientCertificate), ("key", clientKey)] {
            if let file { options.append("\(name)=\(file)") }
        }
        return text + "?" + options.joined(separator: "&")
    }
}
