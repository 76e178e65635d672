extension StoreURL {
    /// Refuses credentials that cannot be meant: a password without a user name, an `@` with no
    /// user name before it, and a user name without a password or with an empty one. Every
    /// backend that takes credentials calls this before any connection, so that the same URL is
    /// refused alike, with the same words, whichever store it names (`memory://` takes none).
    ///
    /// An empty password is refused even where the server might take it: on ZooKeeper it would
    /// make the digest user's creator-only keys open to whoever names that user; etcd's own
    /// `etcdctl` cannot log in with one; and an empty password file is most often one not yet
    /// written, or a command that failed to print the password.
    /// - Throws: `invalidConfiguration` naming the URL (its password as `***`) and the fix.
    public func requireCredentialsInPairs() throws(CoordinationError) {
        let withUser = "\(scheme)://USER:PASSWORD@host/…"
        guard let user, !user.isEmpty else {
            if password != nil {
                throw CoordinationError(.invalidConfiguration, "'\(self)' has a password but no user name; write \(withUser)")
            }
            if user != nil {
                throw CoordinationError(
                    .invalidConfiguration,
                    "'\(self)' has an '@' with no user name before it; write \(withUser) to log in, or leave out the '@'")
            }
            return
        }
        guard let password, !password.isEmpty else {
            throw CoordinationError(
                .invalidConfiguration,
                "'\(self)' names user '\(user)' but \(password == nil ? "no" : "an empty") password; put it in the store URL "
                    + "(\(scheme)://\(user):PASSWORD@host/…) or give the password setting (with coord: --password-file, COORD_PASSWORD "
                    + "or COORD_PASSWORD_FILE, 'password' in the config file)")
        }
    }
}
