import CCurl
import Foundation

/// The store's requests, driven through curl's multi interface (`curl_multi_socket_action`) over
/// up to `maxTransfers` kept-alive connections, with one thread the store owns waiting for replies.
///
/// A thread per connection (the first design) paid two thread switches per request and left
/// dozens of threads fighting for 2 cores under load. Here the caller starts its own transfer —
/// curl sends the request at once, without blocking — and one loop thread receives every reply,
/// many per wake-up, and resumes the caller's continuation; replies are parsed by the caller's
/// task. Every curl call happens under `lock` (the multi handle is not thread-safe); the loop
/// thread waits outside it.
final class CurlMultiLoop: @unchecked Sendable {
    typealias Outcome = Result<(status: Int, body: [UInt8]), TransportFailure>

    /// One request in flight or waiting, and who to tell how it went.
    private final class Transfer {
        let request: GatewayRequest
        let sink = ResponseSink()
        let completion: (Outcome?) -> Void

        init(request: GatewayRequest, completion: @escaping (Outcome?) -> Void) {
            self.request = request
            self.completion = completion
        }
    }

    private let lock = NSLock()
    private let maxTransfers: Int
    private let tls: TLSFiles?
    private let multi: UnsafeMutableRawPointer
    private let watcher = SocketWatcher()

    // Guarded by `lock`.
    private let headers = CurlHeaders()
    private var closed = false
    private var idle: [CurlEasy] = []
    /// Running transfers by their easy handle.
    private var busy: [UnsafeMutableRawPointer: (easy: CurlEasy, transfer: Transfer)] = [:]
    private var waiting: [Transfer] = []
    private var waitingHead = 0
    /// When curl wants `curl_multi_socket_action(CURL_SOCKET_TIMEOUT)`.
    private var timerDeadline: ContinuousClock.Instant?
    /// While the loop thread waits: until when (`nil` while it is awake). A caller that needs
    /// curl called back earlier, or changed what a `poll` waits on, wakes it.
    private var loopWaitsUntil: ContinuousClock.Instant?
    /// The loop never waits longer than this, so a far deadline set by a caller (a request's
    /// timeout, seconds away) needs no wake-up: the loop sees it on its next round.
    private static let longestWait = Duration.seconds(1)
    /// Transfers that ended, to be told outside the lock.
    private var ended: [(Transfer, Outcome)] = []

    init(maxTransfers: Int, name: String, tls: TLSFiles?) {
        CurlGlobal.ensureInitialized()
        self.maxTransfers = max(1, maxTransfers)
        self.tls = tls
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed") }
        self.multi = multi

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

    /// Sends `request` and returns how it went; `nil` once the loop is closed.
    func perform(_ request: GatewayRequest) async -> Outcome? {
        await withCheckedContinuation { continuation in
            submit(Transfer(request: request) { continuation.resume(returning: $0) })
        }
    }

    /// Lets the transfers already handed over finish, then ends the thread; later requests get `nil`.
    func close() {
        lock.lock()
        closed = true
        let wake = loopWaitsUntil != nil
        lock.unlock()
        if wake { watcher.wake() }
    }

    /// Starts `transfer` on the caller's thread (curl sends without blocking), or queues it
    /// behind `maxTransfers` running ones.
    private func submit(_ transfer: Transfer) {
        lock.lock()
        if closed {
            lock.unlock()
            return transfer.completion(nil)
        }
        waiting.append(transfer)
        let wake = advance()
        let told = takeEnded()
        lock.unlock()
        if wake { watcher.wake() }
        for (transfer, outcome) in told { transfer.completion(outcome) }
    }

    // MARK: Under the lock

    /// Starts what may start, runs curl's due timer, collects ended transfers; returns whether
    /// the waiting loop thread must wake to see what changed.
    private func advance() -> Bool {
        var socketsChanged = false
        var rounds = 0
        repeat {
            socketsChanged = startWaiting() || socketsChanged
            if let deadline = timerDeadline, deadline <= .now {
                timerDeadline = nil
                var running: Int32 = 0
                _ = curl_multi_socket_action(multi, ccurl_socket_timeout(), 0, &running)
                socketsChanged = true
            }
            collectEnded()
            rounds += 1
        } while rounds < 8 && (timerDeadline.map { $0 <= .now } ?? false || canStart)
        guard let waitsUntil = loopWaitsUntil else { return false }  // the loop is awake; it will look
        if socketsChanged && SocketWatcher.changesNeedWake { return true }
        return timerDeadline.map { $0 < waitsUntil } ?? false
    }

    private var canStart: Bool { busy.count < maxTransfers && waitingHead < waiting.count }

    /// Starts waiting transfers while fewer than `maxTransfers` run; `true` if any started.
    private func startWaiting() -> Bool {
        var started = false
        while canStart {
            let transfer = waiting[waitingHead]
            waitingHead += 1
            start(transfer)
            started = true
        }
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        }
        return started
    }

    private func start(_ transfer: Transfer) {
        let easy = idle.popLast() ?? CurlEasy(tls: tls)
        let request = transfer.request
        easy.prepare(request, headers: headers, sink: transfer.sink)
        // curl copies the body, so it need not outlive this call.
        _ = ccurl_setopt_long(easy.handle, CURLOPT_POSTFIELDSIZE, request.body.count)
        if request.body.isEmpty {
            _ = ccurl_setopt_string(easy.handle, CURLOPT_COPYPOSTFIELDS, "")
        } else {
            request.body.withUnsafeBufferPointer { body in
                _ = ccurl_setopt_pointer(easy.handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: body.baseAddress))
            }
        }
        busy[easy.handle] = (easy, transfer)
        _ = curl_multi_add_handle(multi, easy.handle)
    }

    /// Moves every finished transfer to `ended` and its handle back to `idle`.
    private func collectEnded() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle,
                let (easy, transfer) = busy.removeValue(forKey: handle)
            else { continue }
            let code = message.pointee.data.result
            _ = curl_multi_remove_handle(multi, handle)
            ended.append((transfer, easy.outcome(code, sink: transfer.sink)))
            easy.finish()
            idle.append(easy)
        }
    }

    private func takeEnded() -> [(Transfer, Outcome)] {
        guard !ended.isEmpty else { return [] }
        defer { ended.removeAll(keepingCapacity: true) }
        return ended
    }

    /// curl's socket callback (it runs inside a curl call, so under the lock).
    private func watch(_ socket: curl_socket_t, what: Int32) {
        switch what {
        case CURL_POLL_IN: watcher.watch(socket, reading: true, writing: false)
        case CURL_POLL_OUT: watcher.watch(socket, reading: false, writing: true)
        case CURL_POLL_INOUT: watcher.watch(socket, reading: true, writing: true)
        default: watcher.unwatch(socket)
        }
    }

    /// curl's timer callback (under the lock).
    private func setTimer(milliseconds: Int) {
        timerDeadline = milliseconds < 0 ? nil : ContinuousClock.now.advanced(by: .milliseconds(milliseconds))
    }

    // MARK: The loop thread

    private func run() {
        while true {
            lock.lock()
            _ = advance()
            var told = takeEnded()
            if closed && busy.isEmpty && waitingHead == waiting.count {
                lock.unlock()
                for (transfer, outcome) in told { transfer.completion(outcome) }
                break
            }
            let latest = ContinuousClock.now.advanced(by: Self.longestWait)
            let wakeAt = timerDeadline.map { min($0, latest) } ?? latest
            loopWaitsUntil = wakeAt
            watcher.prepareWait()
            lock.unlock()
            for (transfer, outcome) in told { transfer.completion(outcome) }

            let ready = watcher.wait(timeout: Self.milliseconds(until: wakeAt))

            lock.lock()
            loopWaitsUntil = nil
            for (socket, select) in ready {
                var running: Int32 = 0
                _ = curl_multi_socket_action(multi, socket, select, &running)
            }
            collectEnded()
            told = takeEnded()
            lock.unlock()
            for (transfer, outcome) in told { transfer.completion(outcome) }
        }
        lock.lock()
        idle.removeAll()
        curl_multi_cleanup(multi)
        lock.unlock()
    }

    /// A `poll`/`epoll_wait` timeout for `deadline`, rounded up (waking early would spin).
    private static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let remaining = deadline - .now
        if remaining <= .zero { return 0 }
        return Int32(CurlOptions.milliseconds(remaining) + 1)
    }
}
