import CZooKeeper
import Coordination

/// The one place where a ZooKeeper return code becomes a ``CoordinationError`` (contract clause 9).
/// The rc's name and number ride along in `backendDetail`; callers never branch on them.
enum ZooKeeperReturnCode {
    /// Not the C client's: a completion that got `ZCLOSING`, that is a request handed to the
    /// client before the handle was closed and answered by the close instead of the server.
    /// `zookeeper_close` sends what is queued (the close request last) and returns without
    /// reading the replies, so the server may well have applied it: the outcome is unknown
    /// (`connectionLoss`), unlike a call refused because the handle was already closed, which sent
    /// nothing (`ZCLOSING` itself: `unavailable`).
    static let closedInFlight: Int32 = -10_116

    /// QUOTAEXCEEDED, which a ZooKeeper 3.7+ server that enforces quotas (`zookeeper.enforceQuota`)
    /// answers a create or set past a hard limit (setquota -N or -B) on a key above; the 3.8 C
    /// client's header does not name it.
    static let quotaExceeded: Int32 = -125

    /// Maps `rc` (never `ZOK`) for an operation on `key`.
    /// - Parameter namespace: the handle's; an ACL refusal on its root key names it, since `/`
    ///   alone reads as the server's root (opening `/app/sub` under a key only its owner may
    ///   write said "may not create /").
    /// - Parameter identity: the handle's, which an ACL refusal names (see ``ACLRefusal``).
    /// - Parameter server: the handle's, which every refusal names (see ``RefusingServer``).
    static func error(
        _ rc: Int32, key: Key?, during operation: String, namespace: Key = .root, identity: ACLRefusal.Identity = .unknown,
        server: RefusingServer = .zooKeeper(nil)
    ) -> CoordinationError {
        let about = key.map { " \($0)" } ?? ""
        let detail = "ZooKeeper \(name(of: rc)) (\(rc)) during \(operation)\(about)"
        let code: CoordinationError.Code
        let message: String
        switch rc {
        case ZNONODE.rawValue:
            code = .noNode
            message = key.map { "no such key \($0)" } ?? "no such key"
        case ZNODEEXISTS.rawValue:
            code = .nodeExists
            message = key.map { "key \($0) already exists" } ?? "key already exists"
        case ZBADVERSION.rawValue:
            code = .versionConflict
            message = "key\(about) is not at the expected version"
        case ZNOTEMPTY.rawValue:
            code = .notEmpty
            message = "key\(about) has children; delete them first or delete recursively"
        case ZNOCHILDRENFOREPHEMERALS.rawValue:
            // Named as the other backends name it: by the ephemeral key, the parent.
            guard let parent = key?.parent else {
                return CoordinationError(.ephemeralChildren, "the parent of\(about) is ephemeral and cannot have children", key: key, backendDetail: detail)
            }
            var error = CoordinationError.ephemeralChildren(parent)
            error.backendDetail = detail
            return error
        case ZSESSIONEXPIRED.rawValue, ZINVALIDSTATE.rawValue:
            code = .sessionExpired
            message = "the ZooKeeper session expired during \(operation)\(about); its ephemeral keys are gone"
        case ZCONNECTIONLOSS.rawValue, ZSESSIONMOVED.rawValue:
            code = .connectionLoss
            message = "lost contact with ZooKeeper during \(operation)\(about); a write's outcome is unknown"
        case ZOPERATIONTIMEOUT.rawValue:
            // The C client's own: the server sent nothing for two thirds of the session timeout.
            code = .timeout
            message = "ZooKeeper did not answer in time during \(operation)\(about), and a write's outcome is unknown: \(timeoutHint)"
        case ZNOAUTH.rawValue:
            code = .permissionDenied
            let what = key?.isRoot == true && !namespace.isRoot ? "\(about) (the namespace \(namespace.path))" : about
            message = ACLRefusal.message("\(operation)\(what)", identity: identity, server: server)
        case ZSESSIONCLOSEDREQUIRESASLAUTH.rawValue:
            // The server enforces authentication (enforce.auth.enabled) and the handle gave none of a
            // scheme it accepts; it closes the session after this reply.
            code = .unauthenticated
            message = server.refused(
                "the session",
                because: "it requires authentication, and no user was given (or not by a scheme it accepts; this store uses digest); "
                    + "put the user and password in the store URL (zookeeper://USER:PASSWORD@host/…) or give the username and password settings")
        case ZAUTHFAILED.rawValue, ZINVALIDACL.rawValue:
            code = .unauthenticated
            message = server.refused(
                "the credentials for \(operation)\(about)",
                because: "check the user and password given (in the store URL or the username and password settings)")
        case ZBADARGUMENTS.rawValue:
            code = .invalidKey
            message = "ZooKeeper refused the arguments of \(operation)\(about)"
        case ZUNIMPLEMENTED.rawValue, ZNOTREADONLY.rawValue, ZEPHEMERALONLOCALSESSION.rawValue,
            ZRECONFIGDISABLED.rawValue:
            code = .unsupported
            message = "this ZooKeeper server cannot \(operation)\(about)"
        case quotaExceeded:
            // Applied nothing, and trying again will not help until an operator acts: named with
            // the commands that show and change a quota (the reply does not say which key holds it).
            code = .unavailable
            message = server.refused(
                "\(operation)\(about)",
                because: "it would pass the hard quota (setquota -N on keys, -B on bytes) of a key above, and the server enforces "
                    + "quotas (zookeeper.enforceQuota); find it with listquota in zkCli.sh, then delete keys beneath it or raise the limit")
        case ZTHROTTLEDOP.rawValue:
            code = .unavailable
            message = "ZooKeeper is overloaded and dropped \(operation)\(about) without applying it (its request throttle); try again"
        case ZCLOSING.rawValue:
            code = .unavailable
            message = "the ZooKeeper handle is closing"
        case closedInFlight:
            code = .connectionLoss
            message = "the store handle was closed while \(operation)\(about) was in flight; a write's outcome is unknown"
        default:
            code = .unavailable
            message = "ZooKeeper failed \(operation)\(about)"
        }
        return CoordinationError(code, message, key: key, backendDetail: detail)
    }

    /// Whether `rc` is a server's answer to the request (its outcome, good or bad), not the
    /// client's word that none came (a lost connection, a timeout, a closed or expired handle).
    /// Only such an answer confirms that the server heard from the session.
    static func isServerAnswer(_ rc: Int32) -> Bool {
        switch rc {
        case ZOK.rawValue, ZNONODE.rawValue, ZNODEEXISTS.rawValue, ZBADVERSION.rawValue, ZNOTEMPTY.rawValue,
            ZNOCHILDRENFOREPHEMERALS.rawValue, ZNOAUTH.rawValue, quotaExceeded:
            true
        default: false
        }
    }

    /// A write from this size up that loses contact names the server's request limit as a
    /// possible cause (``hintingAtRequestLimit(_:requestBytes:)``).
    static let largeRequestBytes = 64 * 1024

    /// A ZooKeeper server drops the connection on a request larger than its `jute.maxbuffer`
    /// (1 MiB unless set lower, a Java system property of the server), without a word the client
    /// could report: the write only loses contact. A large one that does says so, and what to check.
    static func hintingAtRequestLimit(_ error: CoordinationError, requestBytes: Int) -> CoordinationError {
        guard error.code == .connectionLoss, requestBytes >= largeRequestBytes else { return error }
        var hinted = error
        hinted.message += " (it carried \(requestBytes) bytes: a ZooKeeper server drops the connection on a request over its"
            + " jute.maxbuffer, 1 MiB unless set lower; if this write keeps failing, check the servers' -Djute.maxbuffer)"
        return hinted
    }

    /// What to check after a `timeout`, for every operation's message.
    static let timeoutHint = "is the server overloaded or stopped? (the client waits two thirds of the session timeout)"

    /// The symbolic name of `rc`, as in zookeeper.h.
    static func name(of rc: Int32) -> String {
        switch rc {
        case ZOK.rawValue: "ZOK"
        case ZSYSTEMERROR.rawValue: "ZSYSTEMERROR"
        case ZRUNTIMEINCONSISTENCY.rawValue: "ZRUNTIMEINCONSISTENCY"
        case ZDATAINCONSISTENCY.rawValue: "ZDATAINCONSISTENCY"
        case ZCONNECTIONLOSS.rawValue: "ZCONNECTIONLOSS"
        case ZMARSHALLINGERROR.rawValue: "ZMARSHALLINGERROR"
        case ZUNIMPLEMENTED.rawValue: "ZUNIMPLEMENTED"
        case ZOPERATIONTIMEOUT.rawValue: "ZOPERATIONTIMEOUT"
        case ZBADARGUMENTS.rawValue: "ZBADARGUMENTS"
        case ZINVALIDSTATE.rawValue: "ZINVALIDSTATE"
        case ZNEWCONFIGNOQUORUM.rawValue: "ZNEWCONFIGNOQUORUM"
        case ZRECONFIGINPROGRESS.rawValue: "ZRECONFIGINPROGRESS"
        case ZSSLCONNECTIONERROR.rawValue: "ZSSLCONNECTIONERROR"
        case ZAPIERROR.rawValue: "ZAPIERROR"
        case ZNONODE.rawValue: "ZNONODE"
        case ZNOAUTH.rawValue: "ZNOAUTH"
        case ZBADVERSION.rawValue: "ZBADVERSION"
        case ZNOCHILDRENFOREPHEMERALS.rawValue: "ZNOCHILDRENFOREPHEMERALS"
        case ZNODEEXISTS.rawValue: "ZNODEEXISTS"
        case ZNOTEMPTY.rawValue: "ZNOTEMPTY"
        case ZSESSIONEXPIRED.rawValue: "ZSESSIONEXPIRED"
        case ZINVALIDCALLBACK.rawValue: "ZINVALIDCALLBACK"
        case ZINVALIDACL.rawValue: "ZINVALIDACL"
        case ZAUTHFAILED.rawValue: "ZAUTHFAILED"
        case ZCLOSING.rawValue: "ZCLOSING"
        case closedInFlight: "ZCLOSING (in flight)"
        case ZNOTHING.rawValue: "ZNOTHING"
        case ZSESSIONMOVED.rawValue: "ZSESSIONMOVED"
        case ZNOTREADONLY.rawValue: "ZNOTREADONLY"
        case ZEPHEMERALONLOCALSESSION.rawValue: "ZEPHEMERALONLOCALSESSION"
        case ZNOWATCHER.rawValue: "ZNOWATCHER"
        case ZRECONFIGDISABLED.rawValue: "ZRECONFIGDISABLED"
        case ZSESSIONCLOSEDREQUIRESASLAUTH.rawValue: "ZSESSIONCLOSEDREQUIRESASLAUTH"
        case ZTHROTTLEDOP.rawValue: "ZTHROTTLEDOP"
        case quotaExceeded: "ZQUOTAEXCEEDED"
        default: "rc"
        }
    }
}
