import CZooKeeper
import Testing

@testable import CoordinationZooKeeper

/// Which operation a failed multi blames, from its per-operation results, without a server.
///
/// Not with a real server: it refuses a multi for its session (expired, moved to another member)
/// only in a race of its own, when the session ends between the request's arrival and its
/// preparation, which no test can time. It then puts the refusal on the first operation, where
/// the client's mapping found it.
struct MultiFailureTests {
    static let rolledBack = ZRUNTIMEINCONSISTENCY.rawValue

    /// An operation's own refusal names it, whichever it is.
    @Test(arguments: [ZNONODE, ZNODEEXISTS, ZBADVERSION, ZNOTEMPTY, ZNOCHILDRENFOREPHEMERALS, ZNOAUTH, ZINVALIDACL])
    func anOperationsOwnRefusalNamesIt(code: ZOO_ERRORS) {
        #expect(ZooKeeperReturnCode.blamedOperation(in: [ZOK.rawValue, code.rawValue, Self.rolledBack], operationCount: 3) == 1)
        #expect(ZooKeeperReturnCode.blamedOperation(in: [code.rawValue, Self.rolledBack], operationCount: 2) == 0)
    }

    /// The server refuses a multi for its session on the first operation: that is the whole
    /// transaction's failure (`sessionExpired`, `connectionLoss`, `unauthenticated` naming no
    /// operation and no key), as on etcd and the embedded store, not the first operation's.
    @Test(arguments: [ZSESSIONEXPIRED, ZSESSIONMOVED, ZAUTHFAILED, ZSESSIONCLOSEDREQUIRESASLAUTH])
    func aRefusalOfTheSessionNamesNoOperation(code: ZOO_ERRORS) {
        #expect(ZooKeeperReturnCode.blamedOperation(in: [code.rawValue, Self.rolledBack, Self.rolledBack], operationCount: 3) == nil)
        #expect(ZooKeeperReturnCode.firstFailure(in: [code.rawValue, Self.rolledBack]) == 0, "the whole call's error is read from it")
    }

    /// A system error the client copied into every result, or a failure of the store's own
    /// probe past the caller's operations, names none either.
    @Test func systemErrorsAndTheProbeNameNoOperation() {
        let lost = ZCONNECTIONLOSS.rawValue
        #expect(ZooKeeperReturnCode.blamedOperation(in: [lost, lost], operationCount: 2) == nil)
        #expect(ZooKeeperReturnCode.blamedOperation(in: [ZOK.rawValue, ZNONODE.rawValue, Self.rolledBack], operationCount: 1) == nil)
        #expect(ZooKeeperReturnCode.blamedOperation(in: [], operationCount: 0) == nil)
    }
}
