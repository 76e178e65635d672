import CZooKeeper
import Coordination
import Synchronization

/// What one asynchronous C call answered, copied out of the client's buffers before the callback
/// returns (the client frees them right after).
struct Reply: Sendable {
    var rc: Int32
    var stat: Stat?
    var data: [UInt8]?
    var names: [String]?
    var path: String?

    init(rc: Int32, stat: Stat? = nil, data: [UInt8]? = nil, names: [String]? = nil, path: String? = nil) {
        self.rc = rc
        self.stat = stat
        self.data = data
        self.names = names
        self.path = path
    }
}

extension Stat: @retroactive @unchecked Sendable {}

/// Carries a continuation through the C client's `const void *data` argument. Retained once when
/// the call is submitted, released by the callback that resumes it (each callback runs at most
/// once, with an error rc if the connection is lost or the handle closed), or by the close for a
/// call the C client never answers. The continuation is
/// resumed exactly once: by the callback, or by the close for a call the C client never answers
/// (see ``InFlightCalls``).
final class ReplyBox: Sendable {
    private enum Destination: Sendable {
        case single(CheckedContinuation<Reply, Never>)
        case batch(ReplyBatch, index: Int)
    }

    private let destination: Destination
    private let delivered = Atomic<Bool>(false)
    fileprivate let calls: InFlightCalls?

    init(_ continuation: CheckedContinuation<Reply, Never>, calls: InFlightCalls? = nil) {
        destination = .single(continuation)
        self.calls = calls
        calls?.boxMade()
    }
    init(_ batch: ReplyBatch, index: Int, calls: InFlightCalls? = nil) {
        destination = .batch(batch, index: index)
        self.calls = calls
        calls?.boxMade()
    }

    deinit { calls?.boxFreed() }

    static func resume(_ data: UnsafeRawPointer?, with reply: Reply) {
        guard let data else { return }
        let box = Unmanaged<ReplyBox>.fromOpaque(data).takeRetainedValue()
        // The callback consumed the retain taken at submission: the close has nothing to release.
        box.calls?.remove(box)
        // The request went to the client, and the close answered it: it may have been applied.
        let reply = reply.rc == ZCLOSING.rawValue ? Reply(rc: ZooKeeperReturnCode.closedInFlight) : reply
        ReplyThread.delivering { box.deliver(reply) }
    }

    /// Resumes the caller with `reply`, unless it was resumed already.
    func deliver(_ reply: Reply) {
        guard !delivered.exchange(true, ordering: .acquiringAndReleasing) else { return }
        switch destination {
        case .single(let continuation): continuation.resume(returning: reply)
        case .batch(let batch, let index): batch.fill(index, with: reply)
        }
    }
}

/// The calls handed to the C client and not called back yet, by the handle (its generation) they
/// went to. `zookeeper_close` answers some of them with `ZCLOSING` and, with replies still queued
/// for its completion thread, never calls back others at all: their callers would wait forever,
/// and the retain each box took for the C client would never be released. Once a handle is
/// destroyed, whatever it left here is answered and let go (``handleDestroyed(_:answering:)``).
final class InFlightCalls: Sendable {
    private let boxes = Mutex<[ObjectIdentifier: (box: ReplyBox, handle: Int)]>([:])
    private let liveBoxes = Atomic<Int>(0)

    // Counted for the test seam below: a box that outlives its answer is a leak per call.
    func boxMade() { liveBoxes.add(1, ordering: .relaxed) }
    func boxFreed() { liveBoxes.subtract(1, ordering: .relaxed) }

    /// Test seam: how many calls are waiting for the C client to call back.
    var waiting: Int { boxes.withLock { $0.count } }
    /// Test seam: how many reply boxes exist (answered or not).
    var boxesAlive: Int { liveBoxes.load(ordering: .relaxed) }

    /// `box` was handed to the C client of handle `handle`, retained once for it.
    func add(_ box: ReplyBox, handle: Int) { boxes.withLock { $0[ObjectIdentifier(box)] = (box, handle) } }
    /// `box`'s retain was consumed (by its callback) or never handed over.
    func remove(_ box: ReplyBox) { _ = boxes.withLock { $0.removeValue(forKey: ObjectIdentifier(box)) } }

    /// Handle `handle` is destroyed (`zookeeper_close` returned), so none of its callbacks can
    /// come any more: every call it left is answered with `rc` (unless the store's close
    /// answered it already) and the retain taken for the C client is released.
    func handleDestroyed(_ handle: Int, answering rc: Int32) {
        let left: [ReplyBox] = boxes.withLock { boxes in
            let left = boxes.filter { $0.value.handle == handle }
            for id in left.keys { boxes[id] = nil }
            return left.values.map(\.box)
        }
        for box in left {
            box.deliver(Reply(rc: rc))
            Unmanaged.passUnretained(box).release()
        }
    }

    /// Answers every call still waiting as closed in flight, whatever handle it went to. A box
    /// of a handle still being closed (an expired one, on another thread) may yet be called
    /// back, so it keeps its retain until ``handleDestroyed(_:answering:)`` for that handle.
    func answerAllAsClosed() {
        let left = boxes.withLock { $0.values.map(\.box) }
        for box in left { box.deliver(Reply(rc: ZooKeeperReturnCode.closedInFlight)) }
    }
}

/// The replies of calls submitted together, resumed once when the last one has answered: one
/// wake-up of the waiting task for the lot instead of one per call.
final class ReplyBatch: Sendable {
    private let continuation: CheckedContinuation<[Reply], Never>
    private let state: Mutex<(replies: [Reply], remaining: Int)>

    init(count: Int, _ continuation: CheckedContinuation<[Reply], Never>) {
        self.continuation = continuation
        state = Mutex((Array(repeating: Reply(rc: ZSYSTEMERROR.rawValue), count: count), count))
    }

    func fill(_ index: Int, with reply: Reply) {
        let done: [Reply]? = state.withLock { state in
            state.replies[index] = reply
            state.remaining -= 1
            return state.remaining == 0 ? state.replies : nil
        }
        if let done { continuation.resume(returning: done) }
    }
}

// The completion functions are free functions (never closures of isolated code): the C client
// calls them on its own completion thread. They copy and resume, and never block; a task that
// prefers ``ReplyThreadExecutor`` goes on inside the resume, until it next waits.

func completeVoid(_ rc: Int32, _ data: UnsafeRawPointer?) {
    ReplyBox.resume(data, with: Reply(rc: rc))
}

func completeStat(_ rc: Int32, _ stat: UnsafePointer<Stat>?, _ data: UnsafeRawPointer?) {
    ReplyBox.resume(data, with: Reply(rc: rc, stat: stat?.pointee))
}

func completeData(
    _ rc: Int32, _ value: UnsafePointer<CChar>?, _ length: Int32, _ stat: UnsafePointer<Stat>?, _ data: UnsafeRawPointer?
) {
    var bytes: [UInt8] = []
    if let value, length > 0 {
        bytes = value.withMemoryRebound(to: UInt8.self, capacity: Int(length)) { Array(UnsafeBufferPointer(start: $0, count: Int(length))) }
    }
    ReplyBox.resume(data, with: Reply(rc: rc, stat: stat?.pointee, data: bytes))
}

func completeStrings(_ rc: Int32, _ strings: UnsafePointer<String_vector>?, _ data: UnsafeRawPointer?) {
    var names: [String] = []
    if let vector = strings?.pointee, let items = vector.data {
        names.reserveCapacity(Int(vector.count))
        for index in 0..<Int(vector.count) {
            if let item = items[index] { names.append(String(cString: item)) }
        }
    }
    ReplyBox.resume(data, with: Reply(rc: rc, names: names))
}

func completeString(_ rc: Int32, _ value: UnsafePointer<CChar>?, _ data: UnsafeRawPointer?) {
    ReplyBox.resume(data, with: Reply(rc: rc, path: value.map { String(cString: $0) }))
}

func completeStringStat(_ rc: Int32, _ path: UnsafePointer<CChar>?, _ stat: UnsafePointer<Stat>?, _ data: UnsafeRawPointer?) {
    ReplyBox.resume(data, with: Reply(rc: rc, stat: stat?.pointee, path: path.map { String(cString: $0) }))
}

/// What a one-shot watch reported: the znode and ZooKeeper's event type (`ZOO_CHILD_EVENT`…), so
/// the watcher re-reads only what that kind of event can have changed.
struct WatchSignal: Sendable {
    var path: String
    var type: Int32

    /// Re-read everything in scope (after a reconnect or a new session): a znode path is never empty.
    static let resync = WatchSignal(path: "", type: 0)
    var isResync: Bool { path.isEmpty }
}

/// The signals a trigger holds, with the paths of the deletions among them: asked of every znode
/// a re-listing finds gone, a scan of the signals cost a burst (a large tree deleted) its square.
struct PendingSignals: Sendable {
    private(set) var signals: [WatchSignal] = []
    private(set) var deletions: Set<String> = []

    mutating func append(_ signal: WatchSignal) {
        signals.append(signal)
        if signal.type == ZOO_DELETED_EVENT { deletions.insert(signal.path) }
    }
}

/// Receives one-shot watches' triggers, through the watcher context (its ``id``, looked up in
/// ``WatchTriggers``), and keeps them for the stream that consumes them; that stream takes every
/// pending signal at once, so the events that arrive while it re-reads are re-read together in
/// its next batch of calls.
final class WatchTrigger: Sendable {
    /// What the C client is handed as the watcher context: a number, never a pointer to this
    /// object, because the client keeps a one-shot watch (and calls back with its context) until
    /// it fires, which may be long after the stream has gone. Kept alive for as long as that,
    /// every trigger a long-lived handle ever made stayed until it closed: opening and cancelling
    /// watches in a loop grew without bound.
    let id: UInt
    /// `nil` once finished, so that nothing piles up in a trigger a stream no longer consumes.
    private let pending = Mutex<PendingSignals?>(PendingSignals())
    /// Wakes the consumer; holds at most one wake-up, since each takes every pending signal.
    private let wake: AsyncStream<Void>.Continuation
    let wakes: AsyncStream<Void>

    init() {
        id = WatchTriggers.nextID()
        (wakes, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// The watcher context to hand the C client for this trigger.
    var context: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: id)! }

    func push(_ signal: WatchSignal) {
        pending.withLock { $0?.append(signal) }
        wake.yield()
    }

    /// Every signal pushed since the last call, oldest first.
    func takePending() -> [WatchSignal] {
        pending.withLock { pending in
            guard let taken = pending?.signals else { return [] }
            pending = PendingSignals()
            return taken
        }
    }

    /// Whether a deletion of `znode` waits among the pending signals.
    func hasPendingDeletion(of znode: Key) -> Bool {
        pending.withLock { $0?.deletions.contains(znode.path) ?? false }
    }

    func finish() {
        pending.withLock { $0 = nil }
        wake.finish()
    }
}

func watchTriggered(
    _ zh: OpaquePointer?, _ type: Int32, _ state: Int32, _ path: UnsafePointer<CChar>?, _ context: UnsafeMutableRawPointer?
) {
    // Session events reach every watcher object too; the session watcher handles those.
    // A trigger whose stream has ended is no longer registered: the C client's late call is dropped.
    guard type != ZOO_SESSION_EVENT, let path, let trigger = WatchTriggers.trigger(for: context) else { return }
    let signal = WatchSignal(path: String(cString: path), type: type)
    ReplyThread.delivering { trigger.push(signal) }
}

/// The triggers of the watch streams that are running, by the id the C client holds as their
/// watcher context: process-wide, since the C client's watcher function is one free function.
enum WatchTriggers {
    private struct Registry {
        var live: [UInt: WatchTrigger] = [:]
        var lastID: UInt = 0
    }

    private static let registry = Mutex(Registry())

    /// A fresh id, never 0 (a context must not be null) and never reused.
    static func nextID() -> UInt {
        registry.withLock { registry in
            registry.lastID += 1
            return registry.lastID
        }
    }

    static func add(_ trigger: WatchTrigger) {
        registry.withLock { $0.live[trigger.id] = trigger }
    }

    static func remove(_ trigger: WatchTrigger) {
        _ = registry.withLock { $0.live.removeValue(forKey: trigger.id) }
    }

    static func trigger(for context: UnsafeMutableRawPointer?) -> WatchTrigger? {
        guard let context else { return nil }
        let id = UInt(bitPattern: context)
        return registry.withLock { $0.live[id] }
    }
}
