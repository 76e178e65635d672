/// The user name and password a store logs in with, checked alike on every backend and by every
/// way of giving them: a store URL (``StoreURL/requireCredentialsInPairs()``), a configuration
/// reader's settings, or a configuration built by hand (``requirePair(user:password:for:)``).
/// Each words the problem for where the credentials came from; what counts as one is decided here.
package enum StoreCredentials {
    /// Credentials that cannot be meant. An empty password is one even where a server might take
    /// it: on ZooKeeper it would make the digest user's creator-only keys open to whoever names
    /// that user; etcd's own `etcdctl` cannot log in with one; and an empty password file is most
    /// often one not yet written, or a command that failed to print the password.
    package enum Problem: Equatable, Sendable {
        /// A password, and no user name or an empty one.
        case passwordWithoutUser
        /// An empty user name, and no password.
        case emptyUser
        /// A user name, and no password (`isEmpty` false) or an empty one (true).
        case noPassword(user: String, isEmpty: Bool)
    }

    /// What is wrong with `user` and `password` given together; `nil` for neither, or both.
    package static func problem(user: String?, password: String?) -> Problem? {
        if password != nil, (user ?? "").isEmpty { return .passwordWithoutUser }
        guard let user else { return nil }
        if user.isEmpty { return .emptyUser }
        guard let password, !password.isEmpty else { return .noPassword(user: user, isEmpty: password != nil) }
        return nil
    }

    /// Refuses credentials that cannot be meant (``Problem``) when a store is opened from
    /// settings given by hand: a configuration or an initialiser's arguments.
    ///
    /// Before any connection, so that each backend refuses them alike: ZooKeeper took a user
    /// without a password as the digest `user:` and locked the keys it created to it, while etcd
    /// sent the login and reported the server's refusal.
    /// - Parameter store: the product the settings were for, which the message names ("ZooKeeper").
    /// - Throws: `invalidConfiguration` saying what is missing; never the password itself.
    package static func requirePair(user: String?, password: String?, for store: String) throws(CoordinationError) {
        switch problem(user: user, password: password) {
        case nil:
            return
        case .passwordWithoutUser:
            throw CoordinationError(.invalidConfiguration, "the \(store) settings give a password but no user name; give the user name too, or neither")
        case .emptyUser:
            throw CoordinationError(.invalidConfiguration, "the \(store) settings give an empty user name; give the user name, or leave out both it and the password")
        case .noPassword(let user, let isEmpty):
            throw CoordinationError(
                .invalidConfiguration,
                "the \(store) settings give user '\(user)' but \(isEmpty ? "an empty" : "no") password; give that user's password, or neither")
        }
    }
}
