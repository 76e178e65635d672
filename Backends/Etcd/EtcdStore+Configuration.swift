public import Logging

extension EtcdStore {
    /// Opens a handle and its session with the settings of `configuration`.
    /// - Throws: `invalidConfiguration` for no endpoint; `unavailable` when no endpoint answers;
    ///   `unauthenticated` for wrong credentials.
    public convenience init(configuration: EtcdConfiguration, logger: Logger = Logger(label: "coordination.etcd")) async throws {
        try await self.init(
            endpoints: configuration.endpoints, namespace: configuration.namespace, ttl: configuration.sessionTTL,
            secure: configuration.secure, caCertificate: configuration.caCertificate,
            clientCertificate: configuration.clientCertificate, clientKey: configuration.clientKey,
            user: configuration.user, password: configuration.password, requestTimeout: configuration.requestTimeout,
            connections: configuration.connections, logger: logger)
    }
}
