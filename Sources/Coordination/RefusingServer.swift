/// The server an access refusal names: `etcd at http://127.0.0.1:2379`, `ZooKeeper at
/// 127.0.0.1:2181`. A store URL, its user and its password may come from a flag, the environment
/// and config files at once; a refusal that named no server left the reader to guess which of
/// several stores said no. Every refusal of a login, a user or an operation, on every backend, is
/// worded through ``refused(_:because:)``, so that all of them take one shape.
package struct RefusingServer: Sendable, Equatable, CustomStringConvertible {
    /// The server's product, as messages name it (`etcd`, `ZooKeeper`).
    package var product: String
    /// Where it was reached: an endpoint URL or `host:port` entries, never with a password.
    /// `nil` where the error is made without knowing (the product alone is named then).
    package var address: String?

    package init(_ product: String, at address: String?) {
        self.product = product
        self.address = address
    }

    package var description: String { address.map { "\(product) at \($0)" } ?? product }

    /// `<server> refused <what>: <why>`, the shape of every access refusal.
    package func refused(_ what: String, because why: String) -> String { "\(self) refused \(what): \(why)" }
}
