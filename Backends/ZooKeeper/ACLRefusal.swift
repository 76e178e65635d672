import Coordination

/// The words of a ZooKeeper ACL refusal (`ZNOAUTH`), fitted to who the handle is to the server.
///
/// Digest auth never refuses a password: a wrong one is just another identity, which the ACL
/// then shuts out. So etcd's `unauthenticated` for a wrong password is `permissionDenied` here
/// (reading the ACL to tell needs the very permission that is missing), and the message names
/// the wrong password as a likely cause. The handle knows whether it gave a user, and which: the
/// message names that user, or says none was given, and gives only the fix that fits (a refusal
/// that said "the credentials in use" left the user to guess which ones a config file had given).
/// It names the server too, as every refusal does (``RefusingServer``).
enum ACLRefusal {
    /// Who a handle is to ZooKeeper.
    enum Identity: Sendable, Equatable {
        /// Not known where the error is made (the test seam's own C client loop).
        case unknown
        /// No digest credentials: the server sees the `world` identity only.
        case anonymous
        /// Digest credentials of `user`.
        case digest(user: String)
    }

    /// Why `server` refused `identity` to do `what` (an operation and its key, `get /a`), and what to do.
    static func message(_ what: String, identity: Identity, server: RefusingServer) -> String {
        switch identity {
        case .digest(let user):
            server.refused(
                "\(what) to user '\(user)'",
                because: "its ZooKeeper ACL does not grant this to that user; if the password is wrong, "
                    + "ZooKeeper sees another identity instead of refusing it, so check the password given for '\(user)' (in the store URL "
                    + "or the password setting: coord's --password-file, COORD_PASSWORD or COORD_PASSWORD_FILE, 'password' in the config file); "
                    + "if it is right, have the key's owner grant '\(user)' access")
        case .anonymous:
            server.refused(
                what,
                because: "no user was given, and its ZooKeeper ACL does not grant this to a client without one (an ACL may grant it to "
                    + "no one, as world:anyone:r does a write); give a user it lets in, in the store URL (zookeeper://USER:PASSWORD@host/…) or "
                    + "the username and password settings (coord: --username with --password-file, COORD_USERNAME with COORD_PASSWORD, "
                    + "or 'username' and 'password' in the config file), or have the key's owner grant access")
        case .unknown:
            server.refused(
                "\(what) to the credentials in use",
                because: "its ZooKeeper ACL does not let them; if the password is wrong, "
                    + "ZooKeeper sees another identity instead of refusing it, so check the user and password given (in the store URL or the username and password settings); "
                    + "if no user is given, give one the ACL lets in (zookeeper://USER:PASSWORD@host/…); else have the key's owner grant access")
        }
    }
}

extension RefusingServer {
    /// The ZooKeeper servers of `hosts` (the configured `host:port` entries): the ensemble, whose
    /// members share every ACL, so that any of them would refuse alike. `nil`: not known here.
    static func zooKeeper(_ hosts: [String]?) -> RefusingServer {
        RefusingServer("ZooKeeper", at: hosts.map { $0.joined(separator: ",") })
    }
}
