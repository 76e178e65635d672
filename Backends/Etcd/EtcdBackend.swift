public import Coordination

extension StoreBackend {
    /// `etcd://[user:password@]h1:2379,h2:2379/NAMESPACE?ttl=DURATION` and
    /// `etcds://…?cacert=FILE&cert=FILE&key=FILE` (TLS).
    public static var etcd: StoreBackend {
        StoreBackend(
            schemes: ["etcd", "etcds"],
            usage: "etcd[s]://[USER:PASSWORD@]HOST:PORT[,…][/NAMESPACE][?ttl=TIME&cacert=F&cert=F&key=F]"
        ) { url, logger in
            let secure = url.scheme == "etcds"
            try url.requireOptions(in: secure ? ["ttl", "timeout", "cacert", "cert", "key"] : ["ttl", "timeout"])
            let hosts = url.hosts.isEmpty ? ["127.0.0.1:2379"] : url.hosts
            return try await EtcdStore(
                endpoints: hosts, namespace: url.namespace, ttl: try url.durationOption("ttl") ?? .seconds(10),
                secure: secure, caCertificate: url.option("cacert"), clientCertificate: url.option("cert"),
                clientKey: url.option("key"), user: url.user, password: url.password,
                requestTimeout: try url.durationOption("timeout") ?? .seconds(10), logger: logger)
        }
    }
}
