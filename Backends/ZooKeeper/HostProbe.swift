import Coordination
import Foundation
import Synchronization

/// Whether anything accepts TCP connections at a ZooKeeper host.
///
/// The C client keeps cycling through hosts that refuse it, so opening a handle on a mistyped
/// port would wait the whole session timeout before saying anything. When every host refuses
/// outright (or its name does not resolve), nothing is going to answer soon, and opening can say
/// so at once. Asked to, it also tells a server that answers as HTTP does (etcd's port, say),
/// which would otherwise leave the client waiting in silence, or one that speaks TLS only. A host that accepts, or does not
/// answer in time, is not judged: the session may still come.
enum HostProbe {
    enum Outcome: Sendable, Equatable {
        case accepted
        /// Nothing listens there, or the name does not resolve: why, in words.
        case refused(String)
        /// Something listens there, but it is not ZooKeeper: what answered, in words.
        case notZooKeeper(String)
        /// Something accepts connections there but serves no session now: what it did, in words
        /// (a ZooKeeper server that says it is not serving, a hang-up, silence). It may yet serve.
        case notServing(String)
        case undecided
    }

    /// Connects to `address` (`host:port`, `[v6]:port`, or `host` for port 2181) and hangs up, on
    /// a thread of its own (a blocking resolve and connect). With `identify`, a server that
    /// accepts is first sent ``NotZooKeeper/probeRequest`` and judged by its answer, and one that
    /// hangs up without a word is asked again with ``NotZooKeeper/tlsProbeRequest``.
    /// A cancelled probe returns `.undecided` at once; its thread finishes on its own.
    static func probe(_ address: String, timeout: Duration = .seconds(1), identify: Bool = false) async -> Outcome {
        let answer = OnceAnswer()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                answer.wait(continuation)
                Thread.detachNewThread { answer.give(probeBlocking(address, timeout: timeout, identify: identify)) }
            }
        } onCancel: {
            answer.give(.undecided)
        }
    }

    /// Why `address`'s host does not resolve, or `nil` when it does (or may yet: a temporary
    /// resolver failure). Blocks: call it on a thread of your own.
    static func resolutionFailure(_ address: String) -> String? {
        let (host, port) = split(address)
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, port, &hints, &found)
        if let found { freeaddrinfo(found) }
        guard resolved != 0, resolved != EAI_AGAIN else { return nil }
        return "\(host) does not resolve (\(String(cString: gai_strerror(resolved))))"
    }

    /// The first answer wins: the probe's thread, or the cancellation.
    private final class OnceAnswer: Sendable {
        private struct State {
            var waiter: CheckedContinuation<Outcome, Never>?
            var answer: Outcome?
        }
        private let state = Mutex(State())

        func wait(_ continuation: CheckedContinuation<Outcome, Never>) {
            let early = state.withLock { state in
                if state.answer == nil { state.waiter = continuation }
                return state.answer
            }
            if let early { continuation.resume(returning: early) }
        }

        func give(_ outcome: Outcome) {
            let waiter = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
                guard state.answer == nil else { return nil }
                state.answer = outcome
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: outcome)
        }
    }

    static func split(_ address: String) -> (host: String, port: String) {
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            let host = String(address[address.index(after: address.startIndex)..<close])
            let rest = address[address.index(after: close)...]
            return (host, rest.hasPrefix(":") ? String(rest.dropFirst()) : "2181")
        }
        guard let colon = address.lastIndex(of: ":") else { return (address, "2181") }
        return (String(address[..<colon]), String(address[address.index(after: colon)...]))
    }

    private static func probeBlocking(_ address: String, timeout: Duration, identify: Bool) -> Outcome {
        let (host, port) = split(address)
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, port, &hints, &found)
        guard resolved == 0, let first = found else {
            // A temporary resolver failure may pass; a name that does not exist will not.
            if resolved == EAI_AGAIN { return .undecided }
            return .refused("\(host) does not resolve (\(String(cString: gai_strerror(resolved))))")
        }
        defer { freeaddrinfo(first) }
        // Refused only when every address it resolves to refuses.
        var refusal: String?
        var undecided = false
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            switch connectOnce(info.pointee, timeout: timeout, identify: identify) {
            case .accepted: return .accepted
            case .notZooKeeper(let what): return .notZooKeeper(what)
            case .notServing(let what): return .notServing(what)
            case .refused(let why): refusal = refusal ?? why
            case .undecided: undecided = true
            }
        }
        if undecided { return .undecided }
        return refusal.map(Outcome.refused) ?? .undecided
    }

    private static func connectOnce(_ info: addrinfo, timeout: Duration, identify: Bool) -> Outcome {
        switch ProbeSocket.connect(to: info, until: .now + timeout) {
        case .failure(.refused): return .refused("connection refused")
        case .failure(.undecided): return .undecided
        case .success(let socket):
            guard identify else { return .accepted }
            let deadline = ContinuousClock.now + timeout
            let reply = ask(socket, NotZooKeeper.probeRequest, until: deadline)
            if let problem = NotZooKeeper.probeReplyProblem(reply) { return .notZooKeeper(problem) }
            // What an ensemble's member answers `srvr` with while it has no quorum (or is still
            // starting): it takes connections and closes them, so the client waits in silence.
            if reply.starts(with: Array("This ZooKeeper instance is not currently serving requests".utf8)) {
                return .notServing(
                    "is a ZooKeeper server that is not serving requests: a member of an ensemble without a quorum (start enough of its members for a majority), or one still starting")
            }
            guard reply.isEmpty else { return .accepted }
            let silence: Outcome =
                ContinuousClock.now >= deadline
                ? .notServing("accepted the connection but answered nothing within \(DurationText.format(timeout)): a stopped or overloaded server, or not ZooKeeper?")
                : .notServing(
                    "accepted the connection but closed it without a word: a proxy with no server behind it, or a ZooKeeper server refusing more connections from this host (maxClientCnxns)?")
            // No word: a TLS server (etcd serving TLS on its client port) hangs up on bytes that
            // are no TLS handshake, and the client's handshake would meet the same fate until the
            // session timeout. Asked in TLS, it answers. A silent server has used the deadline up.
            switch ProbeSocket.connect(to: info, until: deadline) {
            case .failure: return silence
            case .success(let again):
                let answer = ask(again, NotZooKeeper.tlsProbeRequest, until: deadline)
                return NotZooKeeper.tlsReplyProblem(answer).map(Outcome.notZooKeeper) ?? silence
            }
        }
    }

    /// Sends `request` on a connected socket and returns the first line of the answer, or what
    /// came before a hang-up or the deadline. Only an answer that ZooKeeper never gives is held
    /// against the server: silence, a hang-up or a ZooKeeper answer is not.
    private static func ask(_ socket: borrowing ProbeSocket, _ request: [UInt8], until deadline: ContinuousClock.Instant) -> [UInt8] {
        guard socket.sendAll(request) else { return [] }
        // A status line (or a TLS record's header) is short: stop at a line's end, a hang-up, or the deadline.
        return socket.receive(until: deadline, limit: 512) { $0.contains(10) || NotZooKeeper.tlsReplyProblem($0) != nil }
    }
}
