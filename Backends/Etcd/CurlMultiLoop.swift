import CCurl
import Coordination
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The store's requests, all driven by one thread the store owns through curl's multi interface
/// (`curl_multi_socket_action` and `poll`), over up to `maxTransfers` kept-alive connections.
///
/// A thread per connection (the first design) paid two thread switches per request and left
/// dozens of threads fighting for 2 cores under load; here a single thread sends, receives and
/// completes every request, many per wake-up, and callers await a continuation. Replies are
/// parsed by the awaiting task, on the cooperative pool (or on this thread, inline, for a task
/// that prefers ``ReplyThreadExecutor``).
final class CurlMultiLoop: @unchecked Sendable {
    typealias Outcome = Result<(status: Int, body: [UInt8]), TransportFailure>

    /// How a request handed to the loop ended.
    enum Delivery {
        /// It was sent and answered, or failed on the way.
        case done(Outcome)
        /// The loop was closed before it was sent.
        case notSent
        /// The loop was closed while it was in flight: what the server made of it is unknown.
        case cutShort
    }

    /// One request in flight or waiting, and who to tell how it went. Handed from the caller to
    /// the loop thread under `state`'s lock, then touched by the loop thread only.
    private final class Transfer: @unchecked Sendable {
        let request: GatewayRequest
        let sink = ResponseSink()
        let completion: (Delivery) -> Void

        init(request: GatewayRequest, completion: @escaping (Delivery) -> Void) {
            self.request = request
            self.completion = completion
        }
    }

    /// Guarded by `state`: what callers hand over to the loop thread.
    private struct Inbox {
        var transfers: [Transfer] = []
        var wakePending = false
        var closed = false
    }

    private let state = Mutex(Inbox())
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let maxTransfers: Int
    private let tls: TLSFiles?

    // Touched by the loop thread only (and curl's callbacks, which run on it).
    private let multi: UnsafeMutableRawPointer
    private let headers = CurlHeaders()
    private var idle: [CurlEasy] = []
    /// Running transfers by their easy handle.
    private var busy: [UnsafeMutableRawPointer: (easy: CurlEasy, transfer: Transfer)] = [:]
    private var waiting: [Transfer] = []
    private var waitingHead = 0
    /// The poll events curl wants per socket.
    private var sockets: [curl_socket_t: Int16] = [:]
    private var timerDeadline: ContinuousClock.Instant?

    init(maxTransfers: Int, name: String, tls: TLSFiles?) {
        CurlGlobal.ensureInitialized()
        self.maxTransfers = max(1, maxTransfers)
        self.tls = tls
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed") }
        self.multi = multi
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { fatalError("pipe failed: errno \(errno)") }
        wakeRead = ends[0]
        wakeWrite = ends[1]
        for end in ends { _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) }

        // Keep every connection the loop may use alive between requests.
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, self.maxTransfers)
        let context = Unmanaged.passUnretained(self).toOpaque()
        _ = ccurl_multi_setopt_socket_callback(multi) { _, socket, what, context, _ in
            guard let context else { return 0 }
            Unmanaged<CurlMultiLoop>.fromOpaque(context).takeUnretainedValue().watch(socket, what: what)
            return 0
        }
        _ = ccurl_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, context)
        _ = ccurl_multi_setopt_timer_callback(multi) { _, timeout, context in
            guard let context else { return 0 }
            Unmanaged<CurlMultiLoop>.fromOpaque(context).takeUnretainedValue().setTimer(milliseconds: timeout)
            return 0
        }
        _ = ccurl_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, context)

        // The thread holds the loop until it ends, after `close()` and the last transfer.
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Sends `request` and returns how it went, or how closing the loop ended it.
    func perform(_ request: GatewayRequest) async -> Delivery {
        await withCheckedContinuation { continuation in
            submit(Transfer(request: request) { continuation.resume(returning: $0) })
        }
    }

    /// Ends every transfer (those not sent yet are ``Delivery/notSent``, those in flight
    /// ``Delivery/cutShort``), then the thread; later requests are ``Delivery/notSent``. A request
    /// in flight would otherwise hold its caller up to the request time-out after the store closed,
    /// where a server out of reach does not answer.
    func close() {
        let wake = state.withLock { inbox -> Bool in
            inbox.closed = true
            defer { inbox.wakePending = true }
            return !inbox.wakePending
        }
        if wake { wakeUp() }
    }

    private func submit(_ transfer: Transfer) {
        let (accepted, wake) = state.withLock { inbox -> (Bool, Bool) in
            if inbox.closed { return (false, false) }
            inbox.transfers.append(transfer)
            defer { inbox.wakePending = true }
            return (true, !inbox.wakePending)
        }
        guard accepted else { return transfer.completion(.notSent) }
        if wake { wakeUp() }
    }

    private func wakeUp() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    // MARK: The loop thread

    private func run() {
        var fds: [pollfd] = []
        while true {
            if takeInbox() {
                // What has finished is told as it went; the rest ends here.
                finishCompleted()
                endAll()
                break
            }
            startWaiting()
            if let deadline = timerDeadline, deadline <= .now { fireTimer() }
            finishCompleted()

            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
            for (socket, events) in sockets { fds.append(pollfd(fd: socket, events: events, revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), pollTimeout())
            guard ready > 0 else { continue }
            if fds[0].revents != 0 { drainWakeups() }
            for entry in fds.dropFirst() where entry.revents != 0 {
                var mask: Int32 = 0
                if entry.revents & Int16(POLLIN | POLLHUP) != 0 { mask |= CURL_CSELECT_IN }
                if entry.revents & Int16(POLLOUT) != 0 { mask |= CURL_CSELECT_OUT }
                if entry.revents & Int16(POLLERR | POLLNVAL) != 0 { mask |= CURL_CSELECT_ERR }
                var running: Int32 = 0
                _ = curl_multi_socket_action(multi, entry.fd, mask, &running)
            }
            finishCompleted()
        }
        idle.removeAll()
        curl_multi_cleanup(multi)
        closeDescriptor(wakeRead)
        closeDescriptor(wakeWrite)
    }

    /// Moves handed-over transfers to `waiting`; `true` once the loop is closed.
    private func takeInbox() -> Bool {
        let (taken, closed) = state.withLock { inbox -> ([Transfer], Bool) in
            inbox.wakePending = false
            defer { inbox.transfers.removeAll(keepingCapacity: true) }
            return (inbox.transfers, inbox.closed)
        }
        if waitingHead > 0 && waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        }
        waiting.append(contentsOf: taken)
        return closed
    }

    /// Ends every transfer in flight or waiting, once the loop is closed.
    private func endAll() {
        for (handle, entry) in busy {
            _ = curl_multi_remove_handle(multi, handle)
            entry.easy.finish()
            ReplyThread.delivering { entry.transfer.completion(.cutShort) }
        }
        busy.removeAll()
        for transfer in waiting[waitingHead...] { transfer.completion(.notSent) }
        waiting.removeAll()
        waitingHead = 0
    }

    /// Starts waiting transfers while fewer than `maxTransfers` run.
    private func startWaiting() {
        while busy.count < maxTransfers && waitingHead < waiting.count {
            let transfer = waiting[waitingHead]
            waitingHead += 1
            start(transfer)
        }
    }

    private func start(_ transfer: Transfer) {
        let easy = idle.popLast() ?? CurlEasy(tls: tls)
        let request = transfer.request
        easy.prepare(request, headers: headers, sink: transfer.sink)
        easy.setBody(of: request)
        busy[easy.handle] = (easy, transfer)
        _ = curl_multi_add_handle(multi, easy.handle)
    }

    /// Hands every finished transfer its outcome and returns its handle to `idle`.
    private func finishCompleted() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle,
                let (easy, transfer) = busy.removeValue(forKey: handle)
            else { continue }
            let code = message.pointee.data.result
            _ = curl_multi_remove_handle(multi, handle)
            let outcome = easy.outcome(code, sink: transfer.sink)
            easy.finish()
            idle.append(easy)
            // A task that prefers the reply thread executor goes on right here.
            ReplyThread.delivering { transfer.completion(.done(outcome)) }
        }
        startWaiting()
    }

    private func fireTimer() {
        timerDeadline = nil
        var running: Int32 = 0
        _ = curl_multi_socket_action(multi, ccurl_socket_timeout(), 0, &running)
    }

    private func pollTimeout() -> Int32 {
        guard let deadline = timerDeadline else { return -1 }
        let remaining = deadline - .now
        if remaining <= .zero { return 0 }
        // Round up: waking a little late is harmless, waking early spins.
        return Int32(min(CurlOptions.milliseconds(remaining) + 1, Int(Int32.max)))
    }

    private func drainWakeups() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    private func watch(_ socket: curl_socket_t, what: Int32) {
        switch what {
        case CURL_POLL_IN: sockets[socket] = Int16(POLLIN)
        case CURL_POLL_OUT: sockets[socket] = Int16(POLLOUT)
        case CURL_POLL_INOUT: sockets[socket] = Int16(POLLIN | POLLOUT)
        default: sockets[socket] = nil
        }
    }

    private func setTimer(milliseconds: Int) {
        timerDeadline = milliseconds < 0 ? nil : ContinuousClock.now.advanced(by: .milliseconds(milliseconds))
    }
}

/// `close(2)`, named apart from ``CurlMultiLoop/close()``.
private func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}
