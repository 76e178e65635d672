import Foundation
import Synchronization

/// Runs work until it ends or the process receives SIGINT or SIGTERM, in which case the work is
/// cancelled and the call returns normally: an interrupted watch is a clean end, not a failure.
///
/// Once a signal has ended the work, coord only closes its store and exits, so a later SIGTERM is
/// ignored, as `coord run` and `coord worker` ignore one while they stop: a supervisor that sends
/// it again, or `timeout`, which signals coord and then its group, must not turn the clean end
/// into death by SIGTERM. A later SIGINT (Ctrl-C again) still ends coord at once.
enum Interruption {
    /// Returns `true` when a signal ended the work.
    @discardableResult
    static func runUntilSignalled(_ work: @escaping @Sendable () async throws -> Void) async throws -> Bool {
        // Listen before the work starts, so that a signal sent as soon as it prints is not lost.
        let signals = SignalListener([SIGINT, SIGTERM])
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await work() }
                group.addTask { await signals.wait() }
                do {
                    _ = try await group.next()
                } catch is CancellationError {
                    // The work noticed a cancellation first: still a clean end.
                }
                group.cancelAll()
            }
        } catch {
            signals.stop()
            throw error
        }
        signals.stop(ignoringAfterASignal: [SIGTERM])
        // Read after the listener stopped: a signal caught just as the work ended still counts.
        return signals.hasReceived
    }
}

/// The write end of the pipe that the signal handler writes to, or -1. A global because a C signal
/// handler cannot capture anything.
private let signalPipeWriteEnd = Atomic<Int32>(-1)
/// Set by the signal handler (an atomic store is async-signal-safe); cleared by each new listener.
private let signalCaught = Atomic<Bool>(false)
/// The number of the last signal caught, or 0; set and cleared with ``signalCaught``.
private let signalNumberCaught = Atomic<Int32>(0)

/// One signal as it reached coord.
struct ReceivedSignal: Sendable, Equatable {
    /// SIGINT, SIGTERM…
    let number: Int32
    /// Sent by a process (`kill`), rather than by the kernel: a terminal's Ctrl-C comes from the
    /// kernel to the whole foreground process group, so a child in that group has it already.
    let sentByProcess: Bool
}

/// Catches signals (instead of their default action) from its creation until ``stop()``, and
/// lets a task wait for the first one, or take each one in turn from ``signals``.
///
/// A signal that coord's parent left ignored (``InheritedSignals``) is not caught: it stays
/// ignored, as shells and `make` leave it, so a background job of a script is not stopped by
/// the SIGINT meant for the script's foreground.
///
/// The handler is installed synchronously (a dispatch signal source registers later, and a signal
/// arriving in between would be lost) and only writes a byte to a pipe, which is async-signal-safe;
/// a thread of the listener's own reads the pipe.
final class SignalListener: Sendable {
    private struct State {
        var received = false
        /// A real signal, not a cancelled wait.
        var signalled = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())
    private let numbers: [Int32]
    /// Every signal caught, in order (one consumer).
    let signals: AsyncStream<ReceivedSignal>

    init(_ numbers: [Int32]) {
        let numbers = numbers.filter { !InheritedSignals.wereIgnored($0) }
        self.numbers = numbers
        let (signals, continuation) = AsyncStream<ReceivedSignal>.makeStream()
        self.signals = signals
        var ends: [Int32] = [-1, -1]
        signalCaught.store(false, ordering: .sequentiallyConsistent)
        signalNumberCaught.store(0, ordering: .sequentiallyConsistent)
        guard pipe(&ends) == 0 else {  // Without a pipe, signals keep their default action.
            continuation.finish()
            return
        }
        signalPipeWriteEnd.store(ends[1], ordering: .sequentiallyConsistent)
        let readEnd = ends[0]
        Thread { [self] in
            var byte: UInt8 = 0
            while read(readEnd, &byte, 1) == 1 {
                continuation.yield(ReceivedSignal(number: Int32(byte & 0x7F), sentByProcess: byte & 0x80 != 0))
                receive(signalled: true)
            }
            continuation.finish()
            close(readEnd)
        }.start()
        for number in numbers {
            var action = sigaction()
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_SIGINFO | SA_RESTART
            #if os(Linux) || os(Android)
            action.__sigaction_handler.sa_sigaction = catchSignal
            #else
            action.__sigaction_u.__sa_sigaction = catchSignal
            #endif
            _ = sigaction(number, &action, nil)
        }
    }

    /// Returns once a signal has arrived (at once if one already has), or when the task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let alreadyReceived = state.withLock { state in
                    if state.received { return true }
                    state.waiter = continuation
                    return false
                }
                if alreadyReceived { continuation.resume() }
            }
        } onCancel: {
            receive()
        }
    }

    /// Whether a signal has arrived (a cancelled ``wait()`` does not count). The handler itself
    /// sets a flag, so a signal whose byte the reading thread has not read yet counts too.
    var hasReceived: Bool { signalCaught.load(ordering: .sequentiallyConsistent) || state.withLock { $0.signalled } }

    /// The last signal caught, if any.
    var caughtSignal: Int32? {
        let number = signalNumberCaught.load(ordering: .sequentiallyConsistent)
        return number == 0 ? nil : number
    }

    /// Restores the signals' default actions and ends the reading thread. Those in `ignored` are
    /// ignored from then on instead, if a signal has arrived: coord is then on its way out.
    func stop(ignoringAfterASignal ignored: [Int32] = []) {
        let signalled = hasReceived
        for number in numbers { signal(number, signalled && ignored.contains(number) ? SIG_IGN : SIG_DFL) }
        let writeEnd = signalPipeWriteEnd.exchange(-1, ordering: .sequentiallyConsistent)
        if writeEnd >= 0 { close(writeEnd) }
    }

    /// Restores the default action of `number` and delivers it to this process again: it ends
    /// as it would have without a handler (a shell then shows 128 + the number). The calling
    /// thread (a pool thread, which blocks signals) unblocks it first, so that it arrives at once.
    static func dieOf(_ number: Int32) -> Never {
        signal(number, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, number)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(number)
        exit(128 + number)  // not reached
    }

    private func receive(signalled: Bool = false) {
        let waiter = state.withLock { state in
            state.received = true
            state.signalled = state.signalled || signalled
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}

/// The signal handler: records the signal and who sent it as one byte (the number, and the top bit
/// when a process sent it) written to the listener's pipe. Only async-signal-safe calls.
private func catchSignal(_ number: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _: UnsafeMutableRawPointer?) {
    signalNumberCaught.store(number, ordering: .sequentiallyConsistent)
    signalCaught.store(true, ordering: .sequentiallyConsistent)
    var sentByProcess = true
    if let code = info?.pointee.si_code {
        #if os(Linux) || os(Android)
        sentByProcess = code <= 0  // SI_USER, SI_QUEUE, SI_TKILL…; the kernel (a terminal) is SI_KERNEL
        #else
        sentByProcess = code == SI_USER || code == SI_QUEUE
        #endif
    }
    var byte = UInt8(truncatingIfNeeded: number & 0x7F) | (sentByProcess ? 0x80 : 0)
    _ = write(signalPipeWriteEnd.load(ordering: .relaxed), &byte, 1)
}
