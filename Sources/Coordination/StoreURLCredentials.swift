extension StoreURL {
    /// Refuses credentials that cannot be meant (``StoreCredentials/Problem``): a password
    /// without a user name, an `@` with no user name before it, and a user name without a
    /// password or with an empty one. Every backend that takes credentials calls this before any
    /// connection, so that the same URL is refused alike, with the same words, whichever store it
    /// names (`memory://` takes none).
    /// - Throws: `invalidConfiguration` naming the URL (its password as `***`) and the fix.
    public func requireCredentialsInPairs() throws(CoordinationError) {
        let withUser = "\(scheme)://USER:PASSWORD@host/…"
        switch StoreCredentials.problem(user: user, password: password) {
        case nil:
            return
        case .passwordWithoutUser:
            throw CoordinationError(.invalidConfiguration, "'\(self)' has a password but no user name; write \(withUser)")
        case .emptyUser:
            throw CoordinationError(
                .invalidConfiguration, "'\(self)' has an '@' with no user name before it; write \(withUser) to log in, or leave out the '@'")
        case .noPassword(let user, let isEmpty):
            throw CoordinationError(
                .invalidConfiguration,
                "'\(self)' names user '\(user)' but \(isEmpty ? "an empty" : "no") password; put it in the store URL "
                    + "(\(scheme)://\(user):PASSWORD@host/…) or give the password setting (with coord: --password-file, COORD_PASSWORD "
                    + "or COORD_PASSWORD_FILE, 'password' in the config file)")
        }
    }
}
