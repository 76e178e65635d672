public import Coordination

extension StoreBackend {
    /// `memory://[NAME][/NAMESPACE][?ttl=DURATION]`: the embedded store, living as long as the process.
    /// Handles opened with the same NAME (empty by default) share one tree.
    public static var memory: StoreBackend {
        StoreBackend(schemes: ["memory"], usage: "memory://[NAME][/NAMESPACE][?ttl=TIME]", check: checkMemoryURL) { url, logger in
            try checkMemoryURL(url)
            let ttl = try url.sessionTTLOption("ttl") ?? .seconds(10)
            return try await MemoryServer.named(url.hosts.first ?? "")
                .connect(namespace: url.namespace, sessionTTL: ttl, logger: logger)
        }
    }
}

/// What memory:// refuses in a URL: options but `ttl` (and a bad one), more than one store name, credentials.
@Sendable private func checkMemoryURL(_ url: StoreURL) throws(CoordinationError) {
    try url.requireOptions(in: ["ttl"])
    guard url.hosts.count <= 1 else {
        throw CoordinationError(.invalidConfiguration, "memory:// takes at most one store name, got \(url.hosts.joined(separator: ","))")
    }
    if url.user != nil || url.password != nil {
        throw CoordinationError(.invalidConfiguration, "memory:// takes no credentials")
    }
    _ = try url.sessionTTLOption("ttl")
}
