import Synchronization

/// Buffers the elements of a stream (a watch, a session's states) as they arrive, so that a check
/// can take them one at a time, each wait bounded by a timeout that fails the check.
final class EventInbox<Element: Sendable>: Sendable {
    /// How the underlying stream ended.
    enum End: Sendable {
        case finished
        case failed(any Error)
    }

    private let storage: Storage
    private let pump: Task<Void, Never>
    let label: String
    let timeout: Duration

    init<S: AsyncSequence & Sendable>(_ stream: S, label: String, timeout: Duration) where S.Element == Element {
        let storage = Storage()
        self.storage = storage
        self.label = label
        self.timeout = timeout
        pump = Task {
            do {
                for try await element in stream { storage.append(element) }
                storage.end(.finished)
            } catch {
                storage.end(.failed(error))
            }
        }
    }

    /// Stops consuming the stream (cancels the consuming task).
    func cancel() { pump.cancel() }

    /// The next element, or how the stream ended when it has.
    func nextOrEnd(_ what: @autoclosure () -> String, file: String = #fileID, line: Int = #line) async throws -> Result<Element, End> {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if let taken = storage.take() { return taken }
            guard ContinuousClock.now < deadline else {
                throw failure("timed out after \(timeout) on \(label) awaiting \(what())", file: file, line: line)
            }
            await waitForChange(until: deadline)
            try Task.checkCancellation()
        }
    }

    /// The next element; fails the check when the stream ended instead.
    func next(_ what: @autoclosure () -> String, file: String = #fileID, line: Int = #line) async throws -> Element {
        let description = what()
        switch try await nextOrEnd(description, file: file, line: line) {
        case .success(let element): return element
        case .failure(.finished):
            throw failure("\(label) ended while awaiting \(description)", file: file, line: line)
        case .failure(.failed(let error)):
            throw failure("\(label) failed with \(error) while awaiting \(description)", file: file, line: line)
        }
    }

    /// Suspends until something arrives or the deadline passes.
    private func waitForChange(until deadline: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.storage.changed() }
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            await group.next()
            group.cancelAll()
        }
    }

    final class Storage: Sendable {
        private struct State {
            var buffer: [Element] = []
            var head = 0
            var end: End?
            var waiter: CheckedContinuation<Void, Never>?
        }
        private let state = Mutex(State())

        func append(_ element: Element) {
            let waiter = state.withLock { state in
                state.buffer.append(element)
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }

        func end(_ end: End) {
            let waiter = state.withLock { state in
                state.end = end
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }

        func take() -> Result<Element, End>? {
            state.withLock { state in
                if state.head < state.buffer.count {
                    let element = state.buffer[state.head]
                    state.head += 1
                    if state.head > 64 && state.head * 2 > state.buffer.count {
                        state.buffer.removeFirst(state.head)
                        state.head = 0
                    }
                    return .success(element)
                }
                if let end = state.end { return .failure(end) }
                return nil
            }
        }

        /// Returns when an element or the end arrives, or when the calling task is cancelled.
        func changed() async {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state in
                        if state.head < state.buffer.count || state.end != nil || Task.isCancelled { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { state in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume()
            }
        }
    }
}

extension EventInbox.End: Error {}
