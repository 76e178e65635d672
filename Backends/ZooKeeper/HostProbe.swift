import Foundation
import Synchronization

/// Whether anything accepts TCP connections at a ZooKeeper host.
///
/// The C client keeps cycling through hosts that refuse it, so opening a handle on a mistyped
/// port would wait the whole session timeout before saying anything. When every host refuses
/// outright (or its name does not resolve), nothing is going to answer soon, and opening can say
/// so at once. Asked to, it also tells a server that answers as HTTP does (etcd's port, say),
/// which would otherwise leave the client waiting in silence. A host that accepts, or does not
/// answer in time, is not judged: the session may still come.
enum HostProbe {
    enum Outcome: Sendable, Equatable {
        case accepted
        /// Nothing listens there, or the name does not resolve: why, in words.
        case refused(String)
        /// Something listens there, but it is not ZooKeeper: what answered, in words.
        case notZooKeeper(String)
        case undecided
    }

    /// Connects to `address` (`host:port`, `[v6]:port`, or `host` for port 2181) and hangs up, on
    /// a thread of its own (a blocking resolve and connect). With `identify`, a server that
    /// accepts is first sent ``NotZooKeeper/probeRequest`` and judged by its answer.
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
            case .refused(let why): refusal = refusal ?? why
            case .undecided: undecided = true
            }
        }
        if undecided { return .undecided }
        return refusal.map(Outcome.refused) ?? .undecided
    }

    private static func connectOnce(_ info: addrinfo, timeout: Duration, identify: Bool) -> Outcome {
        let descriptor = socket(info.ai_family, info.ai_socktype, info.ai_protocol)
        guard descriptor >= 0 else { return .undecided }
        defer { close(descriptor) }
        guard fcntl(descriptor, F_SETFL, O_NONBLOCK) == 0 else { return .undecided }
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        if connect(descriptor, info.ai_addr, info.ai_addrlen) != 0 {
            if errno == ECONNREFUSED { return .refused("connection refused") }
            guard errno == EINPROGRESS else { return .undecided }
            var ready = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            guard poll(&ready, 1, milliseconds) == 1 else { return .undecided }
            var failure: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &failure, &length) == 0 else { return .undecided }
            if failure != 0 { return failure == ECONNREFUSED ? .refused("connection refused") : .undecided }
        }
        guard identify else { return .accepted }
        return ask(descriptor, milliseconds: milliseconds)
    }

    /// Sends the probe request on a connected non-blocking socket and judges the first line of
    /// the answer. Silence, a hang-up or a ZooKeeper answer is `.accepted`: only an answer that
    /// ZooKeeper never gives is held against the server.
    private static func ask(_ descriptor: Int32, milliseconds: Int32) -> Outcome {
        let request = NotZooKeeper.probeRequest
        let sent = request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == request.count else { return .accepted }
        let deadline = ContinuousClock.now + .milliseconds(Int64(milliseconds))
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        // A status line is short: stop at its end, a hang-up, or the deadline.
        while !reply.contains(10), reply.count < 512 {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { break }
            var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let wait = Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000) + 1
            let polled = poll(&ready, 1, wait)
            if polled < 0 && errno == EINTR { continue }
            guard polled == 1 else { break }
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard count > 0 else { break }
            reply += buffer[0..<count]
        }
        return NotZooKeeper.probeReplyProblem(reply).map(Outcome.notZooKeeper) ?? .accepted
    }
}
