/// The user name and password a store logs in with, checked alike on every backend.
package enum StoreCredentials {
    /// Refuses credentials that cannot be meant when a store is opened from settings given by hand
    /// (a configuration or an initialiser's arguments; a URL's are checked by
    /// ``StoreURL/requireCredentialsInPairs()``, naming the URL): a password without a user
    /// name, an empty user name, and a user name without a password or with an empty one.
    ///
    /// Before any connection, so that each backend refuses them alike: ZooKeeper took a user
    /// without a password as the digest `user:` and locked the keys it created to it, while etcd
    /// sent the login and reported the server's refusal.
    /// - Parameter store: the product the settings were for, which the message names ("ZooKeeper").
    /// - Throws: `invalidConfiguration` saying what is missing; never the password itself.
    package static func requirePair(user: String?, password: String?, for store: String) throws(CoordinationError) {
        switch (user, password) {
        case (nil, nil):
            return
        case (nil, _?):
            throw CoordinationError(.invalidConfiguration, "the \(store) settings give a password but no user name; give the user name too, or neither")
        case (""?, _):
            throw CoordinationError(.invalidConfiguration, "the \(store) settings give an empty user name; give the user name, or leave out both it and the password")
        case (let user?, let password) where (password ?? "").isEmpty:
            throw CoordinationError(
                .invalidConfiguration,
                "the \(store) settings give user '\(user)' but \(password == nil ? "no" : "an empty") password; give that user's password, or neither")
        default:
            return
        }
    }
}
