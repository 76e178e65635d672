import Logging

/// One backend as the registry knows it: which schemes it serves and how to open a handle.
public struct StoreBackend: Sendable {
    /// URL schemes this backend serves, lower-case (`etcd`, `etcds`).
    public var schemes: [String]
    /// The URL form, for help and error messages: `memory://[NAME][/NAMESPACE][?ttl=DURATION]`.
    public var usage: String
    /// Opens a handle (and its session) for a parsed URL.
    public var open: @Sendable (StoreURL, Logger) async throws -> any CoordinationStore
    /// Checks a parsed URL's hosts, options and credentials as `open` would, without connecting;
    /// `nil` when the backend checks nothing before it connects.
    public var check: (@Sendable (StoreURL) throws(CoordinationError) -> Void)?
    /// The client library it talks to its servers through, with that library's version
    /// (`libcurl 7.88.1`), as a bug report wants it; `nil` when it uses none.
    public var client: String?
    /// Schemes a user may well try for this backend that it cannot serve, each with why and what
    /// to do instead (`zookeepers`: the C client is built without TLS): refused with that, not
    /// as unknown.
    public var unservedSchemes: [String: String]

    public init(
        schemes: [String], usage: String, client: String? = nil, unservedSchemes: [String: String] = [:],
        check: (@Sendable (StoreURL) throws(CoordinationError) -> Void)? = nil,
        open: @escaping @Sendable (StoreURL, Logger) async throws -> any CoordinationStore
    ) {
        self.schemes = schemes
        self.usage = usage
        self.client = client
        self.unservedSchemes = unservedSchemes
        self.check = check
        self.open = open
    }
}

/// Maps store URLs to backends. A new backend is one more ``StoreBackend`` in the list the
/// application builds; nothing here is global.
///
/// The backends this package ships are `StoreBackend.memory` (module `CoordinationMemory`),
/// `.zookeeper` (`CoordinationZooKeeper`) and `.etcd` (`CoordinationEtcd`, which serves `etcds`
/// too); import the modules of those you list:
///
/// ```swift
/// let registry = StoreRegistry([.memory, .zookeeper, .etcd])
/// let store = try await registry.open("zookeeper://127.0.0.1:2181/myapp?ttl=10s", logger: logger)
/// // … and before the process ends (its session, and so its ephemeral keys, would outlive it):
/// await store.close()
/// ```
public struct StoreRegistry: Sendable {
    public var backends: [StoreBackend]

    public init(_ backends: [StoreBackend]) {
        self.backends = backends
    }

    /// Every scheme served, in registration order.
    public var knownSchemes: [String] { backends.flatMap(\.schemes) }

    /// The backend serving `scheme`, or `nil`.
    public func backend(for scheme: String) -> StoreBackend? {
        backends.first { $0.schemes.contains(scheme.lowercased()) }
    }

    /// Parses `url`, finds its backend and opens a handle.
    /// - Throws: `invalidConfiguration` for a malformed URL or an unknown scheme (listing the known
    ///   ones); whatever the backend throws when it cannot connect.
    public func open(_ url: String, logger: Logger) async throws -> any CoordinationStore {
        let parsed = try StoreURL(url)
        return try await open(parsed, logger: logger)
    }

    /// Opens a handle for an already parsed `url` with its backend.
    /// - Throws: `invalidConfiguration` for an unknown scheme; whatever the backend throws.
    public func open(_ url: StoreURL, logger: Logger) async throws -> any CoordinationStore {
        try await knownBackend(for: url).open(url, logger: logger)
    }

    /// What `open` would refuse in `url` before connecting: an unknown scheme, and whatever its
    /// backend's ``StoreBackend/check`` finds (an unknown option, a bad TTL, a missing password).
    public func check(_ url: StoreURL) throws(CoordinationError) {
        try knownBackend(for: url).check?(url)
    }

    /// Why no backend serves `url`'s scheme (`invalidConfiguration`), naming where it came from
    /// (`"'zookeepers://h'"`, `"--to zookeepers://h"`); `nil` when one does.
    public func schemeRefusal(_ url: StoreURL, in place: String) -> CoordinationError? {
        backend(for: url.scheme) == nil ? refusal(ofUnserved: url, in: place) : nil
    }

    private func refusal(ofUnserved url: StoreURL, in place: String) -> CoordinationError {
        let scheme = url.scheme.lowercased()
        if let reason = backends.lazy.compactMap({ $0.unservedSchemes[scheme] }).first {
            return CoordinationError(.invalidConfiguration, "store scheme '\(scheme)' in \(place) is not served: \(reason)")
        }
        return CoordinationError(
            .invalidConfiguration,
            "unknown store scheme '\(url.scheme)' in \(place); known schemes: " + knownSchemes.map { $0 + "://" }.joined(separator: ", "))
    }

    private func knownBackend(for url: StoreURL) throws(CoordinationError) -> StoreBackend {
        guard let backend = backend(for: url.scheme) else { throw refusal(ofUnserved: url, in: "'\(url)'") }
        return backend
    }
}

extension StoreBackend {
    fileprivate func open(_ url: StoreURL, logger: Logger) async throws -> any CoordinationStore {
        try await open(url, logger)
    }
}
