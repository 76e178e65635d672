import Coordination
@testable import CoordinationEtcd
import CoordinationLocalServers
import Foundation

/// What the tests add to ``EtcdCluster``: an admin client speaking the store's own gateway code
/// (TLS included), and a scope that always stops the cluster.
extension EtcdCluster {
    var admin: EtcdAdmin {
        let tls = clientTLS.map { TLSFiles(caCertificate: $0.caCertificate, clientCertificate: $0.clientCertificate, clientKey: $0.clientKey) }
        return EtcdAdmin(endpoints: endpoints, secure: secure, tls: tls)
    }

    /// Starts a cluster of `size` members, runs `body`, and stops every member whatever happens.
    static func with<Result>(
        size: Int = 1, arguments: [String] = [], secure: Bool = false, tls: TLSFiles? = nil,
        _ body: (EtcdCluster) async throws -> Result
    ) async throws -> Result {
        let clientTLS = tls.map { ClientTLS(caCertificate: $0.caCertificate, clientCertificate: $0.clientCertificate, clientKey: $0.clientKey) }
        let cluster = EtcdCluster(size: size, extraArguments: arguments, secure: secure, clientTLS: clientTLS)
        do {
            for member in cluster.members { try await cluster.start(member) }
            try await cluster.waitUntilHealthy()
            let result = try await body(cluster)
            cluster.stopAll()
            return result
        } catch {
            cluster.stopAll()
            throw error
        }
    }

    /// Waits until every running member answers a read through the admin client.
    func waitUntilHealthy(timeout: Duration = .seconds(60)) async throws {
        let admin = admin
        try await waitUntilServing(within: timeout) { member in
            var probe = admin
            probe.endpoints = ["127.0.0.1:\(member.clientPort)"]
            return (try? await probe.call("/v3/kv/range", EtcdRequest.range(Array("health".utf8)))) != nil
        }
    }
}
