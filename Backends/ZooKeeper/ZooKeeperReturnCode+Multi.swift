import CZooKeeper

extension ZooKeeperReturnCode {
    /// The index of the first failed result of a multi: the failing operation's (the ones after
    /// it only say `ZRUNTIMEINCONSISTENCY`, rolled back), or the first copy of an error the
    /// client put in every result; `nil` when no result says why (the call failed before any).
    static func firstFailure(in results: [Int32]) -> Int? {
        results.firstIndex { $0 != ZOK.rawValue && $0 != ZRUNTIMEINCONSISTENCY.rawValue }
    }

    /// The operation a failed multi's results blame (its index, below `operationCount`): the
    /// first failure when it is that operation's own refusal. `nil` when the failure is the
    /// whole call's, which names no operation (contract clause 5): a system error the client
    /// copied into every result (lost contact, a time-out: rc above `ZAPIERROR`), a refusal of
    /// the session (``sessionRefusals``), or a failure past the caller's operations (the store's
    /// own probe).
    static func blamedOperation(in results: [Int32], operationCount: Int) -> Int? {
        guard let failure = firstFailure(in: results), failure < operationCount,
            results[failure] <= ZAPIERROR.rawValue, !sessionRefusals.contains(results[failure])
        else { return nil }
        return failure
    }

    /// Server errors about the session, not the operation: the server checks the session as it
    /// prepares each operation, so it puts these on the first one. The transaction fails as a
    /// whole, as on etcd and the embedded store (an expired session there names no operation
    /// and no key either). An ACL refusal (`ZNOAUTH`, `ZINVALIDACL`) stays the operation's own.
    static let sessionRefusals: Set<Int32> = [
        ZSESSIONEXPIRED.rawValue, ZSESSIONMOVED.rawValue, ZAUTHFAILED.rawValue, ZSESSIONCLOSEDREQUIRESASLAUTH.rawValue,
    ]
}
