import Foundation

/// One short exchange with a server, every step bounded by a deadline: what the backends' probes
/// (is anything listening there, and is it the server we expect?) share. Blocks: run it on a
/// thread of your own, never the cooperative pool.
package struct ProbeSocket: ~Copyable {
    package let descriptor: Int32

    package enum ConnectFailure: Error {
        /// Nothing listens there.
        case refused
        /// No answer by the deadline, or another error: nothing can be said.
        case undecided
    }

    /// Connects a non-blocking socket to `address`, waiting at most until `deadline`.
    package static func connect(to address: addrinfo, until deadline: ContinuousClock.Instant) -> Result<ProbeSocket, ConnectFailure> {
        let descriptor = socket(address.ai_family, address.ai_socktype, address.ai_protocol)
        guard descriptor >= 0 else { return .failure(.undecided) }
        let probe = ProbeSocket(descriptor: descriptor)
        guard fcntl(descriptor, F_SETFL, O_NONBLOCK) == 0 else { return .failure(.undecided) }
        if Foundation.connect(descriptor, address.ai_addr, address.ai_addrlen) != 0 {
            if errno == ECONNREFUSED { return .failure(.refused) }
            guard errno == EINPROGRESS, probe.ready(for: POLLOUT, until: deadline) else { return .failure(.undecided) }
            var failure: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &failure, &length) == 0 else { return .failure(.undecided) }
            if failure != 0 { return .failure(failure == ECONNREFUSED ? .refused : .undecided) }
        }
        return .success(probe)
    }

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Sends all of `bytes` at once (a probe's request is small); `false` if the socket took less.
    package func sendAll(_ bytes: [UInt8]) -> Bool {
        // MSG_NOSIGNAL: a server that hung up must not kill the process with SIGPIPE.
        bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Reads until `isComplete` says the reply so far is enough, `limit` bytes came, the server
    /// hung up or `deadline` passed; returns what came.
    package func receive(until deadline: ContinuousClock.Instant, limit: Int, isComplete: ([UInt8]) -> Bool) -> [UInt8] {
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: limit)
        while !isComplete(reply), reply.count < limit, ready(for: POLLIN, until: deadline) {
            let received = recv(descriptor, &buffer, limit - reply.count, 0)
            if received < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard received > 0 else { break }
            reply += buffer[0..<received]
        }
        return reply
    }

    /// Waits for `event`; `false` at the deadline or on an error.
    private func ready(for event: Int32, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return false }
            var ready = pollfd(fd: descriptor, events: Int16(event), revents: 0)
            // Rounded up, so that a wait shorter than a millisecond is not a busy loop.
            let milliseconds = Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000) + 1
            let polled = poll(&ready, 1, milliseconds)
            if polled < 0 && errno == EINTR { continue }
            return polled == 1
        }
    }
}
