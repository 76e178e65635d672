public import Configuration
public import Coordination
import CoordinationConfigReading

extension ZooKeeperConfiguration {
    /// Reads the configuration from a swift-configuration reader (environment variables, a JSON
    /// file, …). The keys `coord`'s config file has too (`namespace`, `sessionTtl`, `username`,
    /// `password`) have the same names there; `coord` takes the servers from its store URL
    /// instead.
    ///
    /// ## Configuration keys
    /// - `hosts` (string list, required): the servers as `host:port` entries (port 2181 when
    ///   an entry names none).
    /// - `namespace` (string, optional, default `/`): every key lives under this znode.
    /// - `sessionTtl` (string, optional, default `10s`): the session timeout to request, as
    ///   `1s`, `10s`, `2m`, from 1s to 1d (``CoordinationLimits/sessionTTLRange``); the server
    ///   clamps it to its own bounds.
    /// - `username` (string, optional): the digest user; nodes this store creates get a
    ///   creator-only ACL. Needs `password`.
    /// - `password` (string, optional, secret): the digest password, not empty; needs `username`.
    ///
    /// Scope the reader to read them under a prefix: `config.scoped(to: "zookeeper")` reads
    /// `zookeeper.hosts` (`ZOOKEEPER_HOSTS` from the environment).
    /// - Throws: `invalidConfiguration` naming the key for a missing `hosts` or a bad value; the
    ///   password's value never appears in it.
    public init(config: ConfigReader) throws(CoordinationError) {
        let hosts = try config.serversSetting("hosts", of: "ZooKeeper servers", defaultPort: Self.defaultPort)
        let (user, password) = try config.credentialSettings()
        self.init(
            hosts: hosts, namespace: try config.keySetting("namespace") ?? .root,
            sessionTimeout: try config.sessionTTLSetting("sessionTtl") ?? Self.defaultSessionTimeout,
            user: user, password: password)
    }
}
