import CCurl

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sockets curl asked ``CurlMultiLoop`` to watch, and the wait for one of them to be ready.
///
/// On Linux this is epoll: any thread may change what is watched while the loop thread waits, so
/// a caller that starts a request itself (and sends it at once) need not wake the loop. Elsewhere
/// it is `poll`, whose set the loop takes before it waits: a change then wakes the loop.
/// Every method but ``wait(timeout:)`` and ``wake()`` runs under the loop's lock.
final class SocketWatcher {
    /// Whether a change to the watched set wakes the loop (so it waits on the new set).
    static let changesNeedWake: Bool = {
        #if os(Linux)
        false
        #else
        true
        #endif
    }()

    #if os(Linux)
    private let epoll: Int32
    private let wakeEvent: Int32
    private var watched = Set<Int32>()
    // The loop thread's buffers for `wait`.
    private var readySockets = [Int32](repeating: 0, count: 64)
    private var readySelects = [Int32](repeating: 0, count: 64)

    init() {
        epoll = ccurl_epoll_create()
        wakeEvent = ccurl_eventfd_create()
        guard epoll >= 0, wakeEvent >= 0 else { fatalError("epoll or eventfd unavailable: errno \(errno)") }
        _ = ccurl_epoll_watch(epoll, EPOLL_CTL_ADD, wakeEvent, 1, 0)
    }

    deinit {
        _ = close(epoll)
        _ = close(wakeEvent)
    }

    func watch(_ socket: Int32, reading: Bool, writing: Bool) {
        let (first, fallback) = watched.insert(socket).inserted ? (EPOLL_CTL_ADD, EPOLL_CTL_MOD) : (EPOLL_CTL_MOD, EPOLL_CTL_ADD)
        // A descriptor closed and reused behind curl's back: the other operation applies.
        if ccurl_epoll_watch(epoll, first, socket, reading ? 1 : 0, writing ? 1 : 0) != 0 {
            _ = ccurl_epoll_watch(epoll, fallback, socket, reading ? 1 : 0, writing ? 1 : 0)
        }
    }

    func unwatch(_ socket: Int32) {
        if watched.remove(socket) != nil { _ = ccurl_epoll_watch(epoll, EPOLL_CTL_DEL, socket, 0, 0) }
    }

    /// Nothing to take: epoll keeps the set in the kernel.
    func prepareWait() {}

    /// Up to 64 ready sockets with their `CURL_CSELECT_*` bits (wake-ups are consumed, not listed).
    func wait(timeout: Int32) -> [(socket: Int32, select: Int32)] {
        let count = ccurl_epoll_wait(epoll, &readySockets, &readySelects, 64, timeout)
        guard count > 0 else { return [] }
        var ready: [(socket: Int32, select: Int32)] = []
        for index in 0..<Int(count) {
            if readySockets[index] == wakeEvent {
                var counter: UInt64 = 0
                _ = read(wakeEvent, &counter, 8)
            } else {
                ready.append((readySockets[index], readySelects[index]))
            }
        }
        return ready
    }

    func wake() {
        var one: UInt64 = 1
        _ = write(wakeEvent, &one, 8)
    }
    #else
    private var watched: [Int32: Int16] = [:]
    private var toPoll: [pollfd] = []
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init() {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { fatalError("pipe failed: errno \(errno)") }
        wakeRead = ends[0]
        wakeWrite = ends[1]
        for end in ends { _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) }
    }

    deinit {
        _ = close(wakeRead)
        _ = close(wakeWrite)
    }

    func watch(_ socket: Int32, reading: Bool, writing: Bool) {
        watched[socket] = (reading ? Int16(POLLIN) : 0) | (writing ? Int16(POLLOUT) : 0)
    }

    func unwatch(_ socket: Int32) { watched[socket] = nil }

    /// Takes the set to wait on (under the lock; the wait itself is not).
    func prepareWait() {
        toPoll = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        for (socket, events) in watched { toPoll.append(pollfd(fd: socket, events: events, revents: 0)) }
    }

    func wait(timeout: Int32) -> [(socket: Int32, select: Int32)] {
        guard poll(&toPoll, nfds_t(toPoll.count), timeout) > 0 else { return [] }
        if toPoll[0].revents != 0 {
            var buffer = [UInt8](repeating: 0, count: 64)
            while read(wakeRead, &buffer, buffer.count) > 0 {}
        }
        return toPoll.dropFirst().filter { $0.revents != 0 }.map { entry in
            var select: Int32 = 0
            if entry.revents & Int16(POLLIN | POLLHUP) != 0 { select |= CURL_CSELECT_IN }
            if entry.revents & Int16(POLLOUT) != 0 { select |= CURL_CSELECT_OUT }
            if entry.revents & Int16(POLLERR | POLLNVAL) != 0 { select |= CURL_CSELECT_ERR }
            return (entry.fd, select)
        }
    }

    func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }
    #endif
}
