import Coordination
import Testing

@testable import CoordinationZooKeeper

/// The session state machine, without a server.
struct SessionMachineTests {
    let start = ContinuousClock.now

    func states(_ actions: [SessionMachine.Action]) -> [SessionState] {
        actions.compactMap { if case .publish(let event) = $0 { event.state } else { nil } }
    }

    @Test func connectSuspendReconnect() {
        var machine = SessionMachine(requestedTTL: .seconds(10), now: start)
        #expect(states(machine.handle(.connecting, now: start)).isEmpty)
        let connected = machine.handle(.connected(sessionID: 0x42, timeout: .seconds(6)), now: start + .seconds(1))
        guard case .publish(let event) = connected.first else { Issue.record("no event"); return }
        #expect(event.state == .connected && event.sessionID == "0x42" && event.ttl == .seconds(6))
        // A duplicate connected event is not news.
        #expect(machine.handle(.connected(sessionID: 0x42, timeout: .seconds(6)), now: start + .seconds(2)).isEmpty)
        machine.confirmContact(at: start + .seconds(90))
        let suspended = machine.handle(.connecting, now: start + .seconds(100))
        guard case .publish(let lost) = suspended.first else { Issue.record("no event"); return }
        #expect(lost.state == .suspended)
        // The last contact is the last one confirmed, however late the loss was noticed (it
        // used to be two thirds of the TTL before the notice: 94 s here, past the session's end).
        #expect(lost.lastContact == start + .seconds(90))
        #expect(lost.safeUntil == start + .seconds(96))
        // A confirmation that comes in late changes nothing while suspended.
        machine.confirmContact(at: start + .seconds(99))
        #expect(machine.handle(.connecting, now: start + .seconds(100)).isEmpty)
        #expect(states(machine.handle(.connecting, now: start + .seconds(101))).isEmpty)
        #expect(states(machine.handle(.connected(sessionID: 0x42, timeout: .seconds(6)), now: start + .seconds(101))) == [.reconnected])
    }

    /// A session given up while suspended counts as expired and is replaced; given up while
    /// live (contact came back meanwhile) nothing happens; its handle winning it back as it is
    /// replaced is not reported.
    @Test func anAbandonedSessionExpiresOnlyWhileSuspended() {
        var machine = SessionMachine(requestedTTL: .seconds(10), now: start)
        _ = machine.handle(.connected(sessionID: 7, timeout: .seconds(6)), now: start)
        #expect(machine.handle(.abandoned, now: start + .seconds(1)).isEmpty, "a live session is not given up")
        _ = machine.handle(.connecting, now: start + .seconds(2))
        let abandoned = machine.handle(.abandoned, now: start + .seconds(10))
        #expect(states(abandoned) == [.expired] && abandoned.contains(.startNewSession))
        #expect(machine.handle(.abandoned, now: start + .seconds(11)).isEmpty)
        #expect(machine.handle(.connected(sessionID: 7, timeout: .seconds(6)), now: start + .seconds(11)).isEmpty)
        #expect(states(machine.handle(.connected(sessionID: 8, timeout: .seconds(6)), now: start + .seconds(12))) == [.connected])
    }

    /// Without any confirmed contact, a loss counts from the connection itself.
    @Test func aLossWithoutConfirmedContactCountsFromTheConnection() {
        var machine = SessionMachine(requestedTTL: .seconds(10), now: start)
        _ = machine.handle(.connected(sessionID: 7, timeout: .seconds(6)), now: start + .seconds(1))
        guard case .publish(let lost) = machine.handle(.connecting, now: start + .seconds(5)).first else {
            Issue.record("no event")
            return
        }
        #expect(lost.state == .suspended && lost.lastContact == start + .seconds(1))
    }

    @Test func expiryStartsANewSessionOnce() {
        var machine = SessionMachine(requestedTTL: .seconds(10), now: start)
        _ = machine.handle(.connected(sessionID: 1, timeout: .seconds(4)), now: start)
        _ = machine.handle(.connecting, now: start + .seconds(1))
        let expired = machine.handle(.expired, now: start + .seconds(2))
        #expect(states(expired) == [.expired] && expired.contains(.startNewSession))
        #expect(machine.handle(.expired, now: start + .seconds(2)).isEmpty)
        #expect(states(machine.handle(.connected(sessionID: 2, timeout: .seconds(4)), now: start + .seconds(3))) == [.connected])
        #expect(states(machine.handle(.closed, now: start + .seconds(4))) == [.closed])
        #expect(machine.handle(.connected(sessionID: 3, timeout: .seconds(4)), now: start + .seconds(5)).isEmpty)
    }

    @Test func returnCodesMapToPortableErrors() throws {
        let key = try Key("/a/b")
        let cases: [(Int32, CoordinationError.Code)] = [
            (-101, .noNode), (-110, .nodeExists), (-103, .versionConflict), (-111, .notEmpty),
            (-108, .ephemeralChildren), (-112, .sessionExpired), (-4, .connectionLoss), (-7, .timeout),
            (-102, .permissionDenied), (-115, .unauthenticated), (-116, .unavailable),
            // The dead handle's refusal after an expiry; a request that reached a server the session left.
            (-9, .sessionExpired), (-118, .connectionLoss),
        ]
        for (rc, code) in cases {
            let error = ZooKeeperReturnCode.error(rc, key: key, during: "set")
            #expect(error.code == code, "rc \(rc)")
            #expect(error.backendDetail?.contains("(\(rc))") == true)
        }
        #expect(ZooKeeperReturnCode.error(-108, key: key, during: "create").key == (try Key("/a")))
    }

    @Test func configurationFromURL() throws {
        let configuration = try ZooKeeperConfiguration(url: StoreURL("zookeeper://u:secret@h1:2181,h2:2182/ns/app?sessionTimeout=4s"))
        let namespace = try Key("/ns/app")
        #expect(configuration.hosts == ["h1:2181", "h2:2182"] && configuration.namespace == namespace)
        #expect(configuration.sessionTimeout == .seconds(4) && configuration.digest == "u:secret")
        #expect(!configuration.description.contains("secret"))
        // `ttl`, the name every backend understands, means the same as `sessionTimeout`.
        #expect(try ZooKeeperConfiguration(url: StoreURL("zookeeper://h1:2181?ttl=3s")).sessionTimeout == .seconds(3))
        #expect(throws: CoordinationError.self) { try ZooKeeperConfiguration(url: StoreURL("zookeeper://h1:2181?lease=4s")) }
        #expect(throws: CoordinationError.self) { try ZooKeeperConfiguration(url: StoreURL("zookeeper:///ns")) }
    }

    /// A timeout past 12.4 days overflowed the C client's `2 × timeout` (32-bit milliseconds) and
    /// opening waited forever; one under 1 s never got a session. Both are refused by name.
    @Test func configurationRefusesSessionTimeoutsOutsideTheRange() throws {
        for query in ["sessionTimeout=20d", "sessionTimeout=30d", "ttl=1000d", "ttl=1ms", "sessionTimeout=500ms"] {
            let error = #expect(throws: CoordinationError.self, "\(query)") {
                try ZooKeeperConfiguration(url: StoreURL("zookeeper://127.0.0.1:2181/ns?" + query))
            }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.contains("store URL option \(query) is outside the session TTLs every backend accepts, 1s to 1d") == true, "\(error?.message ?? "")")
        }
        #expect(try ZooKeeperConfiguration(url: StoreURL("zookeeper://h1/ns?sessionTimeout=1d")).sessionTimeout == .seconds(86_400))
    }

    /// It was taken, and the keys its handle created were open to that user with an empty password only.
    @Test func aUserWithoutAPasswordIsRefused() {
        let error = #expect(throws: CoordinationError.self) { try ZooKeeperConfiguration(url: StoreURL("zookeeper://app@127.0.0.1:2181/ns")) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("names user 'app' but no password; put it in the store URL (zookeeper://app:PASSWORD@host/…)") == true)
    }

    /// `sessionTimeout=5000` (milliseconds, as ZooKeeper's clients write it) asked for 5000 s, which the server clamped silently.
    @Test func aBareSessionTimeoutInMillisecondsIsRefused() throws {
        let error = #expect(throws: CoordinationError.self) { try ZooKeeperConfiguration(url: StoreURL("zookeeper://127.0.0.1:2181/ns?sessionTimeout=5000")) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("write the unit: sessionTimeout=5000ms or sessionTimeout=5s") == true, "\(error?.message ?? "")")
        #expect(try ZooKeeperConfiguration(url: StoreURL("zookeeper://127.0.0.1:2181/ns?sessionTimeout=30")).sessionTimeout == .seconds(30))
        for (text, spellings) in [("1500", "sessionTimeout=1500ms or sessionTimeout=1.5s"), ("5000.0", "sessionTimeout=5000ms or sessionTimeout=5s")] {
            let refused = #expect(throws: CoordinationError.self) { try ZooKeeperConfiguration(url: StoreURL("zookeeper://h/ns?sessionTimeout=" + text)) }
            #expect(refused?.message.hasSuffix(spellings) == true, "\(refused?.message ?? "")")
        }
    }

    /// `app:@` (an empty password, as an empty password file gives) was taken, with the same result.
    @Test func aUserWithAnEmptyPasswordIsRefused() {
        let error = #expect(throws: CoordinationError.self) { try ZooKeeperConfiguration(url: StoreURL("zookeeper://app:@127.0.0.1:2181/ns")) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("names user 'app' but an empty password") == true, "\(error?.message ?? "")")
    }

    /// Both were taken, sessionTimeout winning, without a word.
    @Test func ttlAndSessionTimeoutTogetherAreRefused() {
        let error = #expect(throws: CoordinationError.self) {
            try ZooKeeperConfiguration(url: StoreURL("zookeeper://127.0.0.1:2181/ns?ttl=5s&sessionTimeout=6s"))
        }
        #expect(error?.message.hasSuffix("gives both ttl= and sessionTimeout=, which are the same setting (the session TTL); give one") == true)
    }

    @Test func configurationGivesAHostWithoutPortTheClientPort() throws {
        let configuration = try ZooKeeperConfiguration(url: StoreURL("zookeeper://127.0.0.1,[::1],h3:2182/ns"))
        #expect(configuration.hosts == ["127.0.0.1:2181", "[::1]:2181", "h3:2182"])
        #expect(configuration.connectString == "127.0.0.1:2181,[::1]:2181,h3:2182")
    }
}
