import CoordinationLocalServers
import Foundation
import Testing

@testable import CoordinationChaos

/// A worker fault that signals nothing, or the wrong processes, leaves a chaos run green and
/// untested. Here a real process stands in for `coord worker`: bash with one command in a
/// session of its own, as the shell handler starts commands, and the states read back from /proc.
@Suite("The chaos worker's signals")
struct ChaosWorkerSignalTests {
    /// A worker slot whose process is bash running `sleep 30` in a session of its own, and sleeps
    /// of its own meanwhile (so that it outlives its command, as `coord worker` does).
    static func worker(slot: Int = 1, log folder: URL) throws -> ChaosWorker {
        try ChaosWorker(slot: slot, members: ["127.0.0.1:1"]) { id, _ in
            try ChildProcess(
                executable: "/bin/bash", arguments: ["-c", "setsid sleep 30 & while :; do sleep 1; done"], environment: ["PATH": "/usr/bin:/bin"],
                log: folder.appendingPathComponent("\(id).log").path)
        }
    }

    /// The worker's command once it runs `sleep` in a process group other than the worker's.
    static func command(of worker: ChaosWorker) async throws -> Int32 {
        let root = try #require(worker.process?.pid)
        let found = try await eventually("the command runs in a group of its own") {
            ProcessTable.descendants(of: root).first { ProcessTable.arguments(of: $0).first == "sleep" && ProcessTable.processGroup(of: $0) != root }
        }
        return try #require(found)
    }

    /// Polls `probe` (every 10 ms, at most 10 s) until it answers: process states show only in /proc.
    static func eventually<T>(_ what: String, _ probe: () -> T?) async throws -> T? {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let value = probe() { return value }
            try await Task.sleep(for: .milliseconds(10))
        }
        // Once more past the deadline: a test held up meanwhile (a busy pool) may not have looked since.
        if let value = probe() { return value }
        Issue.record("not within 10 s: \(what)")
        return nil
    }

    /// SIGKILLs the group of a worker process this test started, should it still run: a kill that
    /// failed (as under a mutant) must not leave bash looping for good.
    static func reap(_ root: Int32) {
        guard ProcessTable.isAlive(root), ProcessTable.processGroup(of: root) == root, ProcessTable.arguments(of: root).first == "/bin/bash" else { return }
        kill(-root, SIGKILL)
    }

    static func becomes(_ what: String, _ condition: () -> Bool) async throws {
        _ = try await eventually(what) { condition() ? true : nil }
    }

    static func withWorker(_ body: (ChaosWorker) async throws -> Void) async throws {
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("chaos-test-worker-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let worker = try worker(log: folder)
        try worker.start()
        let root = worker.process?.pid
        var commands: [Int32] = []
        do {
            commands = [try await command(of: worker)]
            try await body(worker)
        } catch {
            Issue.record(error)
        }
        // Whatever the test left stopped or running.
        commands += worker.process.map { ProcessTable.descendants(of: $0.pid) } ?? []
        for pid in commands { kill(pid, SIGKILL) }
        await worker.terminate(within: .seconds(2))
        if let root { Self.reap(root) }
        worker.close()
        try? FileManager.default.removeItem(at: folder)
    }

    @Test("a stop freezes the worker and its commands; resuming continues them all")
    func stopAndResume() async throws {
        try await Self.withWorker { worker in
            let root = try #require(worker.process?.pid)
            let command = try await Self.command(of: worker)
            worker.suspend()
            try await Self.becomes("the worker and its command stopped") { ProcessTable.isStopped(root) && ProcessTable.isStopped(command) }
            worker.resume()
            try await Self.becomes("the worker and its command continued") { !ProcessTable.isStopped(root) && !ProcessTable.isStopped(command) }
        }
    }

    @Test("a stall stops the worker alone and names its running command")
    func stallAlone() async throws {
        try await Self.withWorker { worker in
            let root = try #require(worker.process?.pid)
            let command = try await Self.command(of: worker)
            #expect(worker.stallAlone().contains(command))
            try await Self.becomes("the worker stopped") { ProcessTable.isStopped(root) }
            #expect(!ProcessTable.isStopped(command), "its command runs on")
            worker.resume()
            try await Self.becomes("the worker continued") { !ProcessTable.isStopped(root) }
        }
    }

    @Test("a kill ends the worker and its commands; the replacement is a new process with a new id")
    func killAndReplace() async throws {
        try await Self.withWorker { worker in
            let root = try #require(worker.process?.pid)
            let command = try await Self.command(of: worker)
            #expect(worker.id == "w1-1")
            await worker.kill()
            #expect(!ProcessTable.isAlive(root))
            try await Self.becomes("the command is gone") { !ProcessTable.isAlive(command) }
            try worker.start()
            #expect(worker.id == "w1-2")
            let replacement = try #require(worker.process?.pid)
            #expect(replacement != root && ProcessTable.isAlive(replacement))
        }
    }
}
