public import Coordination
import Foundation

extension StoreBackend {
    /// `etcd://[user:password@]h1:2379,h2:2379/NAMESPACE?ttl=DURATION&timeout=DURATION` and
    /// `etcds://…?cacert=FILE&cert=FILE&key=FILE` (TLS).
    public static var etcd: StoreBackend {
        StoreBackend(
            schemes: ["etcd", "etcds"],
            usage: "etcd[s]://[USER:PASSWORD@][HOST[:PORT][,…]][/NAMESPACE][?ttl=TIME&timeout=TIME&cacert=F&cert=F&key=F]",
            client: CurlGlobal.libraryVersion,
            check: { url throws(CoordinationError) in try EtcdConfiguration(url: url).checkTLSFiles() }
        ) { url, logger in
            let configuration = try EtcdConfiguration(url: url)
            try configuration.checkTLSFiles()
            return try await EtcdStore(configuration: configuration, logger: logger)
        }
    }
}

extension EtcdConfiguration {
    /// Refuses a TLS file that cannot be read, or a client key without its certificate, before
    /// any connection: curl would only say "problem with the local SSL certificate" (error 58)
    /// or "problem with the CA cert" (77) once connecting. A certificate without a key is fine:
    /// its file may hold the key too.
    public func checkTLSFiles() throws(CoordinationError) {
        guard secure else { return }
        for (name, path) in [("cacert", caCertificate), ("cert", clientCertificate), ("key", clientKey)] {
            guard let path else { continue }
            var isDirectory: ObjCBool = false
            let problem: String? =
                if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) { "no such file" }
                else if isDirectory.boolValue { "it is a directory" }
                else if !FileManager.default.isReadableFile(atPath: path) { "it cannot be read (permission denied)" }
                else { nil }
            if let problem {
                throw CoordinationError(.invalidConfiguration, "store URL option \(name)=\(path): \(problem)")
            }
        }
        // The key is in key=, or else in cert= beside the certificate. OpenSSL would ask for an
        // encrypted key's passphrase on the terminal, from a thread of the store's.
        if let keyFile = clientKey ?? clientCertificate, Self.holdsEncryptedKey(keyFile) {
            throw CoordinationError(
                .invalidConfiguration,
                "store URL option \(clientKey == nil ? "cert" : "key")=\(keyFile): the private key is encrypted with a passphrase, "
                    + "which coord cannot give; write it out unencrypted (openssl pkey -in \(keyFile) -out PLAIN.key) and give that "
                    + "file, readable only by the user coord runs as")
        }
        if clientKey != nil && clientCertificate == nil {
            throw CoordinationError(
                .invalidConfiguration, "store URL option key= is a client certificate's key, and no cert= is given; give the certificate too")
        }
    }

    /// Whether the PEM file at `path` holds an encrypted private key (PKCS #8's `ENCRYPTED PRIVATE
    /// KEY`, or a traditional key's `Proc-Type: 4,ENCRYPTED` header). A file too large to be a
    /// key, or unreadable, is left for curl to judge.
    static func holdsEncryptedKey(_ path: String) -> Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = attributes[.size] as? Int, size <= 1 << 20,
            let contents = FileManager.default.contents(atPath: path)
        else { return false }
        let text = String(decoding: contents, as: UTF8.self)
        return text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.contains("Proc-Type: 4,ENCRYPTED")
    }

    /// Reads an `etcd://` or `etcds://` URL (``StoreBackend/etcd``); no host means `127.0.0.1:2379`.
    /// Options: `ttl` (the session's), `timeout` (one request's), and for `etcds` the TLS files
    /// `cacert`, `cert` and `key`.
    /// - Throws: `invalidConfiguration` for another scheme, credentials not in pairs
    ///   (``StoreURL/requireCredentialsInPairs()``), or an unknown or malformed option (a TTL outside ``CoordinationLimits/sessionTTLRange`` among them).
    public init(url: StoreURL) throws(CoordinationError) {
        guard url.scheme == "etcd" || url.scheme == "etcds" else {
            throw CoordinationError(.invalidConfiguration, "'\(url)' is not an etcd:// or etcds:// URL")
        }
        try url.requireCredentialsInPairs()
        let secure = url.scheme == "etcds"
        if !secure, let tlsFile = url.options.first(where: { ["cacert", "cert", "key"].contains($0.name) }) {
            throw CoordinationError(
                .invalidConfiguration, "store URL option \(tlsFile.name)= is a TLS file, and TLS is etcds://; write etcds://… to use it")
        }
        try url.requireOptions(in: secure ? ["ttl", "timeout", "cacert", "cert", "key"] : ["ttl", "timeout"])
        self.init(
            endpoints: url.hosts.isEmpty ? ["127.0.0.1:2379"] : url.hosts, namespace: url.namespace,
            sessionTTL: try url.sessionTTLOption("ttl") ?? Self.defaultSessionTTL, secure: secure,
            caCertificate: url.option("cacert"), clientCertificate: url.option("cert"), clientKey: url.option("key"),
            user: url.user, password: url.password,
            requestTimeout: try url.durationOption("timeout") ?? Self.defaultRequestTimeout)
    }
}
