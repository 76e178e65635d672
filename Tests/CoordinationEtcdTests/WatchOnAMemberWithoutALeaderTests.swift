import Coordination
@testable import CoordinationEtcd
import Foundation
import Logging
import Synchronization
import Testing

/// A watch whose member says "etcdserver: no leader" (it is cut off, or an election is under way)
/// moves on to the next member and resumes there from its last revision; when every member says
/// so, it backs off rather than spinning, and resumes once one answers.
///
/// No etcd here: stand-in gateways as two endpoints, which end a watch stream with the error
/// object as the real gateway does: last, and without a trailing newline. The session's
/// keep-alive is answered by both, so only the watch itself can move to the other endpoint (on a
/// real cluster a failing keep-alive moves the shared preferred endpoint too, and hides a watch
/// that does not move on by itself).
@Suite("an etcd watch on a member without a leader")
struct WatchOnAMemberWithoutALeaderTests {
    static let noLeader =
        #"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}"#
    static let created = #"{"result":{"header":{"revision":"5"},"created":true}}"#

    @Test("the watch resumes on the next endpoint from its last revision")
    func resumesOnTheNextEndpoint() async throws {
        let cutOff = try StandInGateway.scripted { path, earlier in
            guard path == "/v3/watch" else { return Self.session(path) }
            // The first stream delivers revision 6 and then loses its leader; every later one is
            // refused at once, as a member still without a leader refuses.
            return earlier == 0 ? Self.created + "\n" + Self.event(revision: 6) + "\n" + Self.noLeader : Self.noLeader
        }
        let healthy = try StandInGateway.scripted { path, earlier in
            guard path == "/v3/watch" else { return Self.session(path) }
            // Then silent: a stream with nothing more to say. Its header is at revision 6 at
            // least, as a member that has revision 6 says: one at 5 is a rewound store, whose
            // watch starts over with a snapshot.
            let created = #"{"result":{"header":{"revision":"6"},"created":true}}"#
            return earlier == 0 ? created + "\n" + Self.event(revision: 7) + "\n" : nil
        }
        defer { cutOff.stop(); healthy.stop() }
        let store = try await Self.store([cutOff.address, healthy.address])
        var events = store.watch(try Key("/w")).makeAsyncIterator()

        guard case .snapshot = try await next(&events, "the snapshot") else { Issue.record("the first event must be the snapshot"); return }
        let first = try await next(&events, "revision 6, from the first endpoint")
        #expect(Self.modRevision(first) == 6, "\(first)")
        let second = try await next(&events, "revision 7, from the second endpoint", timeout: .seconds(10))
        #expect(Self.modRevision(second) == 7, "\(second)")

        #expect(cutOff.requests(to: "/v3/watch") == 1, "the watch went back to the member without a leader")
        let resumed = healthy.bodies.first { $0.contains("create_request") }
        #expect(resumed?.contains(#""start_revision":"7""#) == true, "resumed with \(resumed ?? "no request")")
        await store.close()
    }

    @Test("when every member has no leader the watch backs off, and resumes once one answers")
    func backsOffWhileNoMemberHasALeader() async throws {
        let electing = Atomic<Bool>(true)
        let answer: @Sendable (String, Int) -> String? = { path, _ in
            guard path == "/v3/watch" else { return Self.session(path) }
            return electing.load(ordering: .relaxed) ? Self.noLeader : Self.created + "\n" + Self.event(revision: 6) + "\n"
        }
        let first = try StandInGateway.scripted(answer)
        let second = try StandInGateway.scripted(answer)
        defer { first.stop(); second.stop() }
        let store = try await Self.store([first.address, second.address])
        var events = store.watch(try Key("/w")).makeAsyncIterator()
        guard case .snapshot = try await next(&events, "the snapshot") else { Issue.record("the first event must be the snapshot"); return }

        func watchRequests() -> Int { first.requests(to: "/v3/watch") + second.requests(to: "/v3/watch") }
        try await eventually("the first watch request") { watchRequests() >= 1 }
        // A window to count in, not a wait for an event: the retries it holds are what is measured.
        try await Task.sleep(for: .seconds(1))
        let duringElection = watchRequests()
        // Pausing 100 ms, doubling, makes about 4; without pausing it would be hundreds.
        #expect(first.requests(to: "/v3/watch") >= 1 && second.requests(to: "/v3/watch") >= 1, "the watch did not try the other member")
        #expect(duringElection <= 8, "the watch retried \(duringElection) times in a second")

        electing.store(false, ordering: .relaxed)
        let resumed = try await next(&events, "the event served once a member has a leader", timeout: .seconds(10))
        #expect(Self.modRevision(resumed) == 6, "\(resumed)")
        await store.close()
    }

    /// What both members answer outside the watch: a session and an empty snapshot at revision 5.
    static func session(_ path: String) -> String? {
        switch path {
        case "/v3/lease/grant": #"{"ID":"7","TTL":"10"}"#
        case "/v3/lease/keepalive": #"{"result":{"ID":"7","TTL":"10"}}"#
        case "/v3/lease/revoke": #"{"header":{"revision":"5"}}"#
        case "/v3/kv/txn": #"{"header":{"revision":"5"},"responses":[{"response_range":{}},{"response_range":{}}]}"#
        default: nil
        }
    }

    /// A watch message with a put of `/w` at `revision`.
    static func event(revision: Int64) -> String {
        let key = Data("/w".utf8).base64EncodedString()
        let value = Data("v\(revision)".utf8).base64EncodedString()
        return #"{"result":{"header":{"revision":"\#(revision)"},"events":[{"kv":{"key":"\#(key)","create_revision":"6","#
            + #""mod_revision":"\#(revision)","version":"\#(revision - 5)","value":"\#(value)"}}]}}"#
    }

    static func modRevision(_ event: WatchEvent) -> Int64? {
        if case .put(let record) = event { record.modRevision } else { nil }
    }

    static func store(_ endpoints: [String]) async throws -> EtcdStore {
        try await EtcdStore(endpoints: endpoints, requestTimeout: .seconds(5), logger: Logger(label: "test.etcd.watch-no-leader"))
    }
}
