import Coordination

extension CoordinationError {
    /// etcd's "permission denied" with what its words leave out: the user it refused (one given
    /// by a config file or the environment is out of sight) and the grants this store's keys need.
    /// Any other error is returned as it is.
    func explainingPermission(refusedTo user: String?, keys: KeySpace) -> CoordinationError {
        guard code == .permissionDenied else { return self }
        var error = self
        if let user { error.message += " to user '\(user)'" }
        error.message += "; " + keys.grantsNeeded
        return error
    }
}
