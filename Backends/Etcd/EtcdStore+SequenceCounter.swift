public import Coordination

/// The counter of a parent's sequential keys is a key of its own outside the user's tree (clause
/// 6): moving it is one txn, guarded so that a sequential create racing with it is never given a
/// number twice.
extension EtcdStore: SequenceCounterAdvancing {
    public func advanceSequenceCounter(under parent: Key, past number: Int64) async throws -> Bool {
        try CoordinationLimits.validate(sequenceNumberToPass: number, under: parent)
        let counterKey = keys.counter(of: parent)
        let parentExists =
            parent.isRoot ? keys.namespaceExists : [EtcdRequest.compare(keys.etcdKey(parent), .create, .greater, 0)]
        var counter = try await read([EtcdRequest.range(counterKey)]).range(0).first
        while true {
            if try counter.map(Self.counterValue) ?? 0 > number { return false }
            // The counter unchanged since read (0: still absent).
            let compares = parentExists + [EtcdRequest.compare(counterKey, .mod, .equal, counter?.modRevision ?? 0)]
            let put: JSONValue = ["request_put": EtcdRequest.put(counterKey, value: Array(String(number + 1).utf8))]
            let reply = try await txn(EtcdRequest.txn(compare: compares, success: [put]), kind: .write)
            if reply.succeeded { return true }
            // A create moved the counter meanwhile (look again), or the parent is missing.
            let seen = counter?.modRevision
            counter = try await read([EtcdRequest.range(counterKey)]).range(0).first
            if counter?.modRevision == seen { throw CoordinationError.noNode(parent) }
        }
    }
}
