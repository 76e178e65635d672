public import Coordination

/// Where and how a ``ZooKeeperStore`` connects, usually parsed from
/// `zookeeper://[user:password@]h1:2181[,h2:2181…][/namespace][?sessionTimeout=10s]`, or read
/// from a swift-configuration `ConfigReader` with ``init(config:)`` (keys `hosts`, `namespace`,
/// `sessionTtl`, `username`, `password`; documented there).
public struct ZooKeeperConfiguration: Sendable, CustomStringConvertible {
    /// `host:port` entries; the C client spreads connections over them and fails over between them.
    public var hosts: [String]
    /// Every key lives under this znode; ``Key/root`` for none.
    public var namespace: Key
    /// The session timeout to request, within ``CoordinationLimits/sessionTTLRange`` (the store
    /// refuses others); the server clamps it to its own bounds (2–20 × tickTime by default).
    public var sessionTimeout: Duration
    /// Digest credentials. When given, every node this store creates gets a creator-only ACL;
    /// otherwise nodes are open to everyone (`world:anyone`).
    public var user: String?
    public var password: String?

    public static let defaultSessionTimeout: Duration = .seconds(10)
    /// The port of a host that names none: ZooKeeper's client port.
    public static let defaultPort = StoreURL.defaultPorts["zookeeper", default: 2181]
    /// The options a `zookeeper://` URL may carry.
    /// `ttl` is the name every backend understands; `sessionTimeout` is ZooKeeper's own.
    public static let knownOptions = ["sessionTimeout", "ttl"]

    public init(hosts: [String], namespace: Key = .root, sessionTimeout: Duration = defaultSessionTimeout, user: String? = nil, password: String? = nil) {
        self.hosts = hosts
        self.namespace = namespace
        self.sessionTimeout = sessionTimeout
        self.user = user
        self.password = password
    }

    /// Reads a `zookeeper://` URL.
    /// - Throws: `invalidConfiguration` for another scheme, credentials not in pairs
    ///   (``StoreURL/requireCredentialsInPairs()``), no host, or an unknown or malformed option
    ///   (a session timeout outside ``CoordinationLimits/sessionTTLRange`` among them).
    public init(url: StoreURL) throws(CoordinationError) {
        guard url.scheme == "zookeeper" else {
            throw CoordinationError(.invalidConfiguration, "'\(url)' is not a zookeeper:// URL")
        }
        try url.requireCredentialsInPairs()
        guard !url.hosts.isEmpty else {
            throw CoordinationError(
                .invalidConfiguration, "'\(url)' names no ZooKeeper server; write zookeeper://host:2181[,host:2181…]/namespace")
        }
        try url.requireOptions(in: Self.knownOptions)
        // ZooKeeper's own clients take the session timeout in milliseconds: `sessionTimeout=5000`
        // meant as 5 s would be read as 5000 s here (a bare number is seconds, as everywhere in
        // coord) and clamped by the server to its maximum without a word.
        if let text = url.option("sessionTimeout"), let number = Double(text), number >= 1000, number < 1e12 {
            let milliseconds = Int64(number.rounded())
            throw CoordinationError(
                .invalidConfiguration,
                "store URL option sessionTimeout=\(text) is a bare number, which is seconds here, not milliseconds as ZooKeeper's "
                    + "own clients take it; write the unit: sessionTimeout=\(milliseconds)ms or sessionTimeout=\(DurationText.format(.milliseconds(milliseconds)))")
        }
        let sessionTimeout = try url.sessionTTLOption("sessionTimeout")
        let ttl = try url.sessionTTLOption("ttl")
        if sessionTimeout != nil && ttl != nil {
            throw CoordinationError(
                .invalidConfiguration, "'\(url)' gives both ttl= and sessionTimeout=, which are the same setting (the session TTL); give one")
        }
        self.init(
            hosts: url.hosts, namespace: url.namespace, sessionTimeout: sessionTimeout ?? ttl ?? Self.defaultSessionTimeout,
            user: url.user, password: url.password)
    }

    /// The C client's connect string: the hosts, without chroot (namespaces are explicit prefixes).
    var connectString: String { hosts.joined(separator: ",") }

    /// `user:password` for the digest scheme, when credentials were given.
    var digest: String? { user.map { "\($0):\(password ?? "")" } }

    /// Never shows the password.
    public var description: String {
        var text = "zookeeper://"
        if let user { text += user + (password == nil ? "" : ":***") + "@" }
        text += connectString + (namespace.isRoot ? "" : namespace.path)
        return text + "?sessionTimeout=" + DurationText.format(sessionTimeout)
    }
}
