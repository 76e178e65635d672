import CoordinationLocalServers
import Foundation
import Synchronization

/// One worker slot: a `coord worker` process that reaches every cluster member through a
/// ``TCPRelay`` of the slot's own, so that the harness can cut the slot off the network (its
/// session then expires on the server) while the process and the servers keep running.
/// A killed worker is replaced in the same slot by a new process with a new id.
final class ChaosWorker: @unchecked Sendable {
    // Mutated only by the fault loop and the run's setup/teardown, one step at a time.
    let slot: Int
    private(set) var generation = 0
    private(set) var process: ChildProcess?
    /// The processes stopped by ``suspend()``, to continue them all.
    private var suspended: [pid_t] = []
    /// Worker processes that ended without the harness stopping them: "w1-3 (status 1)".
    private(set) var exitedByThemselves: [String] = []
    private let relays: [TCPRelay]
    private let finished: Finished
    private let launch: @Sendable (_ id: String, _ hosts: [String]) throws -> ChildProcess

    final class Finished: Sendable {
        let flag = Atomic<Bool>(false)
    }

    /// `launch` starts the worker process for an id and the relay addresses it should use.
    init(slot: Int, members: [String], launch: @escaping @Sendable (String, [String]) throws -> ChildProcess) throws {
        self.slot = slot
        self.launch = launch
        let finished = Finished()
        self.finished = finished
        relays = try members.map { member in
            try TCPRelay(upstreams: [member]) { finished.flag.load(ordering: .relaxed) }
        }
    }

    /// `w<slot>-<generation>`: a new id for every process, so that a replacement never waits for
    /// its predecessor's membership to expire.
    var id: String { "w\(slot)-\(generation)" }

    /// Notes the worker's process if it has ended by itself; called before each thing the
    /// harness does to it, and at the end.
    func noteIfExited() {
        guard let process, let ending = process.ending, !exitedByThemselves.contains(where: { $0.hasPrefix("\(id) ") }) else { return }
        exitedByThemselves.append("\(id) (\(ending))")
    }

    func start() throws {
        generation += 1
        process = try launch(id, relays.map(\.address))
    }

    /// SIGKILL the worker and its job commands (in groups of their own), as a machine's crash
    /// would, and wait for the worker to be gone.
    func kill() async {
        noteIfExited()
        guard let process else { return }
        // Frozen first, so that the list of its commands is complete and none is orphaned
        // (reparented out of reach) before it dies.
        process.signalGroup(SIGSTOP)
        let commands = ProcessTable.descendants(of: process.pid)
        process.signalGroup(SIGKILL)
        for child in commands { Foundation.kill(child, SIGKILL) }
        _ = await process.waitForExit(within: .seconds(10))
        self.process = nil
    }

    /// SIGSTOP the worker and every process below it (its running commands have groups of their
    /// own): the whole worker freezes, as a machine that stalls would.
    func suspend() {
        noteIfExited()
        guard let process else { return }
        process.signalGroup(SIGSTOP)
        var stopped: Set<pid_t> = [process.pid]
        // Until no new descendant shows up: one may have been forked just before the stop.
        while true {
            let fresh = ProcessTable.descendants(of: process.pid).filter { !stopped.contains($0) }
            if fresh.isEmpty { break }
            for child in fresh { Foundation.kill(child, SIGSTOP) }
            stopped.formUnion(fresh)
        }
        suspended = Array(stopped)
    }

    /// SIGSTOP the worker's process alone: its commands (in groups of their own) run on, as
    /// when the worker hangs, or a debugger holds it, and only their watchdogs can end them.
    /// Returns the commands' processes as they were at the stop.
    func stallAlone() -> [pid_t] {
        noteIfExited()
        guard let process else { return [] }
        process.signalGroup(SIGSTOP)
        suspended = [process.pid]
        return ProcessTable.descendants(of: process.pid)
    }

    /// SIGCONT everything ``suspend()`` or ``stallAlone()`` stopped, the worker first.
    func resume() {
        guard let process else { return }
        process.signalGroup(SIGCONT)
        for pid in suspended where pid != process.pid { Foundation.kill(pid, SIGCONT) }
        suspended = []
    }

    /// The processes below the worker now (its running commands and what they started).
    func commandProcesses() -> [pid_t] {
        noteIfExited()
        guard let process else { return [] }
        return ProcessTable.descendants(of: process.pid)
    }

    /// Cuts the slot's relays: every connection drops and new ones are refused until ``heal()``.
    func cut() {
        noteIfExited()
        for relay in relays { relay.cut() }
    }
    func heal() { for relay in relays { relay.heal() } }

    /// Makes the slot's connections black holes without closing them: the worker's client hears
    /// nothing and is told nothing, until it gives up on them by itself (new ones work).
    func silenceConnections() {
        noteIfExited()
        for relay in relays { relay.freezeConnections() }
    }

    /// Graceful stop: SIGTERM, then SIGKILL after `limit`.
    func terminate(within limit: Duration) async {
        noteIfExited()
        guard let process else { return }
        resume()
        process.signalGroup(SIGTERM)
        if await !process.waitForExit(within: limit) { await kill() }
        self.process = nil
    }

    /// Ends the relays (after the process is gone).
    func close() {
        finished.flag.store(true, ordering: .relaxed)
        for relay in relays { relay.stop() }
    }
}
