import CCurl
import Coordination
import Foundation
import Logging
import Testing

@testable import CoordinationEtcd

/// A gateway call's decisions, driven without a server.
@Suite struct GatewayCallTests {
    let gateway = Gateway(
        hosts: ["127.0.0.1:2379"], secure: false, tls: nil, user: nil, password: nil, requestTimeout: .seconds(1),
        logger: Logger(label: "test"))
    let emptyReply = TransportFailure(code: Int(CURLE_GOT_NOTHING.rawValue), message: "Empty reply from server")

    func failedRead() -> CoordinationError? {
        var call = GatewayCall(gateway: gateway, path: "/v3/kv/range", payload: [], kind: .read, timeout: .seconds(1))
        _ = call.nextRequest()
        guard case .next = call.handle(.failure(emptyReply)), call.nextRequest() == nil else { return nil }
        return call.exhausted
    }

    @Test func anEmptyReplyOnFirstContactSuggestsTLS() throws {
        let error = try #require(failedRead())
        #expect(error.message.contains("use etcds://"), "\(error.message)")
    }

    /// Two endpoints, the first failing as `outcome` says: whether the call goes on to the second.
    func goesOn(_ kind: RequestKind, after outcome: Result<(status: Int, body: [UInt8]), TransportFailure>) -> Bool {
        let pair = Gateway(
            hosts: ["127.0.0.1:2379", "127.0.0.1:22379"], secure: false, tls: nil, user: nil, password: nil, requestTimeout: .seconds(1),
            logger: Logger(label: "test"))
        var call = GatewayCall(gateway: pair, path: "/v3/kv/put", payload: [], kind: kind, timeout: .seconds(1))
        let first = call.nextRequest()?.baseURL
        guard case .next = call.handle(outcome), let second = call.nextRequest()?.baseURL else { return false }
        return first != second
    }

    static let timedOut = Int(CURLE_OPERATION_TIMEDOUT.rawValue)

    /// etcd at 2181,2379 (ZooKeeper's port first) and a first member that accepts and never answers
    /// used to fail at once or after the timeout, where a ZooKeeper URL went on to the next host.
    @Test("what goes on to the next endpoint: a reply that is not etcd's, a connect that never finished, a lease grant after any failure")
    func whatGoesOnToTheNextEndpoint() {
        let page: Result<(status: Int, body: [UInt8]), TransportFailure> = .success((status: 200, body: Array("<html>hi</html>".utf8)))
        let error404: Result<(status: Int, body: [UInt8]), TransportFailure> = .success((status: 404, body: Array("Not Found".utf8)))
        let sentThenTimedOut = TransportFailure(code: Self.timedOut, message: "Operation timed out", requestWentOut: true)
        let connectTimedOut = TransportFailure(code: Self.timedOut, message: "Connection timed out", requestWentOut: false)
        let sentThenDropped = TransportFailure(code: Int(CURLE_GOT_NOTHING.rawValue), message: "Empty reply", requestWentOut: true)
        let proxyTimeout: Result<(status: Int, body: [UInt8]), TransportFailure> = .success((status: 504, body: Array("upstream request timeout".utf8)))
        let plainToTLS: Result<(status: Int, body: [UInt8]), TransportFailure> = .success((status: 400, body: Array("Client sent an HTTP request to an HTTPS server.".utf8)))
        let learner: Result<(status: Int, body: [UInt8]), TransportFailure> = .success(
            (status: 503, body: Array(#"{"error":"etcdserver: rpc not supported for learner","message":"etcdserver: rpc not supported for learner","code":14}"#.utf8)))
        let unavailable: Result<(status: Int, body: [UInt8]), TransportFailure> = .success(
            (status: 503, body: Array(#"{"error":"etcdserver: request timed out","message":"etcdserver: request timed out","code":14}"#.utf8)))
        for kind in [RequestKind.read, .write, .repeatableWrite] {
            #expect(goesOn(kind, after: learner), "\(kind): a learner refuses before applying anything")
            #expect(goesOn(kind, after: page), "\(kind): a page is not etcd, which applied nothing")
            #expect(goesOn(kind, after: error404), "\(kind): a 404 page is not etcd either")
            #expect(goesOn(kind, after: .failure(connectTimedOut)), "\(kind): nothing went out")
            #expect(!goesOn(kind, after: plainToTLS), "\(kind): a setting to fix (etcds://), likely the same at every endpoint")
        }
        #expect(goesOn(.read, after: unavailable) && !goesOn(.write, after: unavailable), "another Unavailable may come after a proposal")
        #expect(goesOn(.read, after: proxyTimeout) && goesOn(.repeatableWrite, after: proxyTimeout))
        #expect(!goesOn(.write, after: proxyTimeout), "a proxy's 504 may come after etcd applied the write: never sent again")
        #expect(goesOn(.read, after: .failure(sentThenTimedOut)) && goesOn(.repeatableWrite, after: .failure(sentThenTimedOut)))
        #expect(goesOn(.read, after: .failure(sentThenDropped)) && goesOn(.repeatableWrite, after: .failure(sentThenDropped)))
        #expect(!goesOn(.write, after: .failure(sentThenTimedOut)), "a write that may have been applied is never sent again")
        #expect(!goesOn(.write, after: .failure(sentThenDropped)), "a write that may have been applied is never sent again")
    }

    /// A member removed from its cluster answers "raft: stopped" until it exits: every call failed
    /// there (a write as outcome unknown), and the next one went there again.
    @Test("a member stopping: a read or lease grant goes on to the next, a write fails as outcome unknown, and the next call starts elsewhere")
    func aStoppingMemberIsPassedOver() {
        for message in ["raft: stopped", "etcdserver: server stopped"] {
            let code = message.hasPrefix("raft") ? 2 : 14
            let stopping: Result<(status: Int, body: [UInt8]), TransportFailure> = .success(
                (status: code == 2 ? 500 : 503, body: Array(#"{"error":"\#(message)","message":"\#(message)","code":\#(code)}"#.utf8)))
            #expect(goesOn(.read, after: stopping) && goesOn(.repeatableWrite, after: stopping), "\(message)")
            #expect(!goesOn(.write, after: stopping), "\(message): the write may have been proposed")

            let pair = Gateway(
                hosts: ["127.0.0.1:2379", "127.0.0.1:22379"], secure: false, tls: nil, user: nil, password: nil, requestTimeout: .seconds(1),
                logger: Logger(label: "test"))
            var write = GatewayCall(gateway: pair, path: "/v3/kv/txn", payload: [], kind: .write, timeout: .seconds(1))
            _ = write.nextRequest()
            guard case .fail(let error) = write.handle(stopping) else {
                Issue.record("\(message): the write went on")
                continue
            }
            #expect(error.code == .connectionLoss)
            #expect(
                error.message == "etcd at http://127.0.0.1:2379 refused the request: it is stopping (\(message)): it was removed from its cluster, "
                    + "or is shutting down; the write may have been proposed before, so its outcome is unknown", "\(error.message)")
            #expect(pair.preferredEndpoint == 1, "the next call starts at the next member")
        }
    }

    /// A reply from `gateway`'s endpoint `index` naming cluster `id`, as the first (or any) call gets.
    func reply(from gateway: Gateway, at index: Int, cluster id: String, kind: RequestKind = .read) -> GatewayCall.Step {
        var call = GatewayCall(gateway: gateway, path: "/v3/kv/range", payload: [], kind: kind, timeout: .seconds(1))
        while let request = call.nextRequest(), request.baseURL != gateway.endpoints[index] {
            _ = call.handle(.failure(TransportFailure(code: Int(CURLE_COULDNT_CONNECT.rawValue), message: "Failed to connect")))
        }
        return call.handle(.success((status: 200, body: Array(#"{"header":{"cluster_id":"\#(id)","revision":"1"}}"#.utf8))))
    }

    /// A write to a member of another cluster was refused once its reply came: applied there already.
    @Test("a write goes to a member only once it has named the handle's cluster: asked first, with no token, and refused unsent")
    func aWriteGoesOnlyToAMemberOfTheHandlesCluster() throws {
        let pair = Gateway(
            hosts: ["127.0.0.1:2379", "127.0.0.1:22379"], secure: false, tls: nil, user: nil, password: nil, requestTimeout: .seconds(1),
            logger: Logger(label: "test"))
        guard case .reply = reply(from: pair, at: 0, cluster: "1") else {
            Issue.record("the first reply")
            return
        }
        pair.rotateEndpoint(from: 0)

        var foreign = GatewayCall(gateway: pair, path: "/v3/kv/txn", payload: [], kind: .write, timeout: .seconds(1))
        let asked = foreign.nextRequest()
        let probe = try #require(asked)
        #expect(probe.path == ClusterIdentity.probePath && probe.baseURL == "http://127.0.0.1:22379" && probe.token == nil && !probe.sendsOnce)
        guard case .fail(let refusal) = foreign.handle(.success((status: 200, body: Array(#"{"header":{"cluster_id":"2"}}"#.utf8)))) else {
            Issue.record("the write went on")
            return
        }
        #expect(refusal.code == .invalidConfiguration && refusal.message.hasSuffix("The write was not sent there."), "\(refusal.message)")

        // The same member naming the handle's cluster gets the write, and is not asked again.
        pair.rotateEndpoint(from: 0)
        var same = GatewayCall(gateway: pair, path: "/v3/kv/txn", payload: [], kind: .write, timeout: .seconds(1))
        #expect(same.nextRequest()?.path == ClusterIdentity.probePath)
        guard case .next = same.handle(.success((status: 200, body: Array(#"{"header":{"cluster_id":"1"}}"#.utf8)))) else {
            Issue.record("the probe's reply")
            return
        }
        #expect(same.nextRequest()?.path == "/v3/kv/txn")
        var again = GatewayCall(gateway: pair, path: "/v3/kv/txn", payload: [], kind: .write, timeout: .seconds(1))
        #expect(again.nextRequest()?.path == "/v3/kv/txn")

        // Reads are checked when their reply comes; a lone endpoint is never asked.
        var read = GatewayCall(gateway: pair, path: "/v3/kv/range", payload: [], kind: .read, timeout: .seconds(1))
        #expect(read.nextRequest()?.path == "/v3/kv/range")
        guard case .reply = reply(from: gateway, at: 0, cluster: "1") else {
            Issue.record("the lone endpoint's reply")
            return
        }
        var lone = GatewayCall(gateway: gateway, path: "/v3/kv/txn", payload: [], kind: .write, timeout: .seconds(1))
        #expect(lone.nextRequest()?.path == "/v3/kv/txn")
    }

    /// A close's revoke is worth at most 2 s (or what is left of the lease), but each endpoint got
    /// that much again: members that drop packets held the close up once per member.
    @Test("a call bounded whole gives each endpoint only what is left of its time-out; a plain one gives each the whole")
    func aWholeCallBoundCoversEveryEndpoint() {
        let pair = Gateway(
            hosts: ["127.0.0.1:2379", "127.0.0.1:22379"], secure: false, tls: nil, user: nil, password: nil, requestTimeout: .seconds(1),
            logger: Logger(label: "test"))
        let connectTimedOut = TransportFailure(code: Self.timedOut, message: "Connection timed out", requestWentOut: false)
        func secondRequest(boundsWholeCall: Bool) -> GatewayRequest? {
            var call = GatewayCall(
                gateway: pair, path: "/v3/lease/revoke", payload: [], kind: .write, timeout: .milliseconds(20), boundsWholeCall: boundsWholeCall)
            let first = call.nextRequest()
            #expect(first.map { $0.timeout <= .milliseconds(20) } == true)
            // The first member's request used up the time-out (its connect timed out).
            let began = ContinuousClock.now
            while ContinuousClock.now - began < .milliseconds(25) { Thread.sleep(forTimeInterval: 0.005) }
            guard case .next = call.handle(.failure(connectTimedOut)) else { return nil }
            return call.nextRequest()
        }
        #expect(secondRequest(boundsWholeCall: true) == nil, "nothing left for the second member")
        #expect(secondRequest(boundsWholeCall: false)?.timeout == .milliseconds(20), "a read or write goes on to a healthy member with its whole time-out")
    }

    /// Only the last endpoint used to be named, where ZooKeeper names each.
    @Test("when no endpoint can be reached, each is named, and a name that resolves nowhere points at the host name")
    func everyUnreachableEndpointIsNamed() throws {
        func exhausted(_ failures: [TransportFailure]) -> CoordinationError? {
            let pair = Gateway(
                hosts: ["127.0.0.1:1", "nowhere.invalid:2379"], secure: false, tls: nil, user: nil, password: nil,
                requestTimeout: .seconds(1), logger: Logger(label: "test"))
            var call = GatewayCall(gateway: pair, path: "/v3/kv/put", payload: [], kind: .write, timeout: .seconds(1))
            for failure in failures {
                guard call.nextRequest() != nil, case .next = call.handle(.failure(failure)) else { return nil }
            }
            return call.nextRequest() == nil ? call.exhausted : nil
        }
        let refused = TransportFailure(code: Int(CURLE_COULDNT_CONNECT.rawValue), message: "Failed to connect")
        let unresolved = TransportFailure(code: Int(CURLE_COULDNT_RESOLVE_HOST.rawValue), message: "Could not resolve host: nowhere.invalid")
        let both = try #require(exhausted([refused, unresolved]))
        #expect(both.code == .unavailable)
        #expect(both.message == "cannot reach etcd (http://127.0.0.1:1: connection refused; http://nowhere.invalid:2379: Could not resolve host: "
            + "nowhere.invalid); is the server running, and is the URL's host:port right?")
        let names = try #require(exhausted([unresolved, unresolved]))
        #expect(names.message.hasSuffix("); is the URL's host name right?"), "\(names.message)")
    }

    @Test("a timed-out write says whether it went out: unknown outcome, or nothing written")
    func timedOutWriteWords() {
        let sent = CoordinationError.gateway(
            .transport(TransportFailure(code: Self.timedOut, message: "t", requestWentOut: true), endpoint: "http://e:2379"), kind: .write)
        #expect(sent.message.hasPrefix("etcd did not answer in time, and a write's outcome is unknown: "), "\(sent.message)")
        let unsent = CoordinationError.gateway(
            .transport(TransportFailure(code: Self.timedOut, message: "t", requestWentOut: false), endpoint: "http://e:2379"), kind: .write)
        #expect(unsent.message.hasPrefix("etcd did not answer in time, and nothing was written: "), "\(unsent.message)")
        let grant = CoordinationError.gateway(
            .transport(TransportFailure(code: Self.timedOut, message: "t", requestWentOut: true), endpoint: "http://e:2379"), kind: .repeatableWrite)
        #expect(grant.message.hasPrefix("etcd did not answer in time: is the server overloaded or stopped?"), "\(grant.message)")
        // A member of a cluster without a quorum (a new one's, always) may take connections and answer nothing.
        #expect(grant.message.contains("a member whose cluster has no quorum may answer nothing until a majority of its members run"), "\(grant.message)")
    }

    /// An endpoint that answered plain HTTP before is no TLS port: its empty reply is a dropped connection.
    static let noLeader: Result<(status: Int, body: [UInt8]), TransportFailure> = .success(
        (status: 503, body: Array(#"{"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14}"#.utf8)))

    /// Requests ask for a leader, so in an election every member refuses at once: the call
    /// waits for one within its time-out (as a request that did not ask waited at the member),
    /// and only then gives up, saying why.
    @Test("every member without a leader: the call waits and goes round again, within its time-out")
    func everyMemberWithoutALeaderWaits() throws {
        let pair = Gateway(
            hosts: ["127.0.0.1:2379", "127.0.0.1:22379"], secure: false, tls: nil, user: nil, password: nil, requestTimeout: .seconds(1),
            logger: Logger(label: "test"))
        for kind in [RequestKind.read, .write] {
            var call = GatewayCall(gateway: pair, path: "/v3/kv/put", payload: [], kind: kind, timeout: .seconds(5))
            let first = try #require(call.nextRequest()?.baseURL)
            guard case .next = call.handle(Self.noLeader) else { Issue.record("\(kind): the second member is tried first"); continue }
            #expect(try #require(call.nextRequest()?.baseURL) != first)
            guard case .waitForLeader(let wait) = call.handle(Self.noLeader) else { Issue.record("\(kind): no wait"); continue }
            #expect(wait > .zero && wait <= .milliseconds(500))
            #expect(call.nextRequest() != nil, "\(kind): another round after the wait")
            guard case .reply = call.handle(.success((status: 200, body: Array(#"{"header":{}}"#.utf8)))) else {
                Issue.record("\(kind): the leader's answer is the reply"); continue
            }
        }
        // One endpoint (a load balancer in front of the cluster) waits too.
        var single = GatewayCall(gateway: gateway, path: "/v3/kv/put", payload: [], kind: .write, timeout: .seconds(5))
        _ = single.nextRequest()
        guard case .waitForLeader = single.handle(Self.noLeader) else { Issue.record("one endpoint: no wait"); return }
        // Past the time-out, the refusal is the answer.
        var late = GatewayCall(gateway: gateway, path: "/v3/kv/put", payload: [], kind: .write, timeout: .milliseconds(10))
        _ = late.nextRequest()
        guard case .next = late.handle(Self.noLeader), late.nextRequest() == nil else { Issue.record("no wait past the time-out"); return }
        #expect(late.exhausted.code == .unavailable && late.exhausted.message.contains("no leader"), "\(late.exhausted.message)")
        // It says what mends it: etcd's own words name no cause.
        #expect(
            late.exhausted.message.contains("fewer than a majority of the cluster's members run or reach each other"),
            "\(late.exhausted.message)")
    }

    /// A round after a wait for a leader has only what is left of the call's time-out: a member
    /// that then takes the request and never answers must not hold the call for a whole time-out
    /// more. The session's keep-alive against one endpoint counts on it: its time-out leaves the
    /// next try, on a new connection, room before the lease ends.
    @Test("after a wait for a leader, a request has only the time left")
    func aRoundAfterAWaitHasOnlyTheTimeLeft() throws {
        var call = GatewayCall(gateway: gateway, path: "/v3/lease/keepalive", payload: [], kind: .read, timeout: .seconds(5))
        let first = call.nextRequest()
        #expect(first?.timeout == .seconds(5), "the first round has the whole time-out")
        guard case .waitForLeader = call.handle(Self.noLeader) else { Issue.record("no wait"); return }
        let again = call.nextRequest()
        #expect(again != nil, "another round after the wait")
        #expect(again.map { $0.timeout > .zero && $0.timeout < .seconds(5) } == true, "\(String(describing: again?.timeout))")

        var short = GatewayCall(gateway: gateway, path: "/v3/lease/keepalive", payload: [], kind: .read, timeout: .milliseconds(200))
        _ = short.nextRequest()
        guard case .waitForLeader = short.handle(Self.noLeader) else { Issue.record("no wait"); return }
        // The time itself is what is tested: the call's time-out passes (a long wait, a slow thread).
        Thread.sleep(forTimeInterval: 0.25)
        let late = short.nextRequest()
        #expect(late == nil, "a request with no time left")
        #expect(short.exhausted.message.contains("no leader"), "\(short.exhausted.message)")
    }

    /// A call refused for its token logs in again, then sends the request with what is left of
    /// its time-out. When the login took it all, the call ends in a `timeout`: not "no endpoint
    /// configured" (nothing was recorded before the login), nor the 401 (the new token may be good).
    @Test("after a login, a request has only the time left, and none left is a timeout")
    func aRequestAfterALoginHasOnlyTheTimeLeft() throws {
        let withAuth = Gateway(
            hosts: ["127.0.0.1:2379"], secure: false, tls: nil, user: "worker", password: "secret", requestTimeout: .seconds(1),
            logger: Logger(label: "test"))
        let badToken: Result<(status: Int, body: [UInt8]), TransportFailure> = .success(
            (401, Array(#"{"error":"etcdserver: invalid auth token","message":"etcdserver: invalid auth token","code":16}"#.utf8)))

        var call = GatewayCall(gateway: withAuth, path: "/v3/kv/range", payload: [], kind: .read, timeout: .seconds(5))
        _ = call.nextRequest()
        guard case .authenticate = call.handle(badToken) else { Issue.record("no login"); return }
        let again = call.nextRequest()
        #expect(again.map { $0.timeout > .zero && $0.timeout < .seconds(5) } == true, "\(String(describing: again?.timeout))")

        var short = GatewayCall(gateway: withAuth, path: "/v3/kv/range", payload: [], kind: .read, timeout: .milliseconds(200))
        _ = short.nextRequest()
        guard case .authenticate = short.handle(badToken) else { Issue.record("no login"); return }
        // The time itself is what is tested: the login takes the call's whole time-out.
        Thread.sleep(forTimeInterval: 0.25)
        #expect(short.nextRequest() == nil, "a request with no time left")
        #expect(short.exhausted.code == .timeout, "\(short.exhausted)")
        #expect(!(short.exhausted.backendDetail ?? "").contains("no endpoint configured"), "\(short.exhausted)")
    }

    @Test func anEmptyReplyAfterAnAnswerDoesNotSuggestTLS() throws {
        var first = GatewayCall(gateway: gateway, path: "/v3/kv/range", payload: [], kind: .read, timeout: .seconds(1))
        _ = first.nextRequest()
        guard case .reply = first.handle(.success((status: 200, body: Array("{}".utf8)))) else {
            Issue.record("a 200 with a JSON object is a reply")
            return
        }
        let error = try #require(failedRead())
        #expect(!error.message.contains("etcds://"), "\(error.message)")
        #expect(error.code == .unavailable)
    }
}
