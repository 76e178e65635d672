import Coordination
import Foundation
import CoordinationLocalServers
import CoordinationTestSupport
import Testing

/// What coord's parent hands it (standard descriptors, ignored signals) and what the command run
/// by `coord lock`, `coord elect` or `coord members --join` inherits in turn: the same as it would
/// without coord in between.
@Suite(.serverLoadLimit) struct InheritedProcessStateTests {
    /// Runs `script` with `/bin/sh -c`, with `$0` the coord binary, and returns its status, stdout and stderr.
    /// The dynamic loader, to start coord through (`ld.so coord …`), where there is one.
    static let loader = ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static func shell(_ script: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script, CoordProcess.binary.path] + arguments
        process.environment = ProcessInfo.processInfo.environment
        let stdout = Pipe(), stderr = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = stderr
        try await ChildProcessLaunch.run(process)
        // Blocking reads on a thread of their own; both pipes end when coord and its command exit.
        return await withCheckedContinuation { continuation in
            Thread {
                let output = stdout.fileHandleForReading.readDataToEndOfFile()
                let error = stderr.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(
                    returning: (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self)))
            }.start()
        }
    }

    /// Started with fd 0, 1 or 2 closed, coord's next open (an epoll handle, a store socket) took
    /// that number, and the command inherited it as its stdin or stdout.
    @Test(
        "started with stdin, stdout or stderr closed, coord lock gives its command /dev/null there, and exits with its status",
        arguments: [TestBackend.memory, .etcd], [0, 1, 2])
    func closedDescriptorIsDevNull(backend: TestBackend, descriptor: Int) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            let url = backend.url(handles.namespace, ttl: handles.ttl) ?? "memory://"
            // The command's shell says where its descriptor leads on one that is open (stderr for
            // stdout, stdout for the others), and exits 3.
            let report = descriptor == 1 ? ">&2" : ""
            let result = try await Self.shell(
                "exec \"$0\" \"$@\" \(descriptor)>&-",
                ["--store", url, "lock", "closed-\(descriptor)", "--", "sh", "-c", "where=$(readlink /proc/$$/fd/\(descriptor)); echo \"$where\" \(report); exit 3"])
            #expect(result.status == 3, "\(result.stderr)")
            let said = descriptor == 1 ? result.stderr : result.stdout
            #expect(said == "/dev/null\n", "stdout: \(result.stdout), stderr: \(result.stderr)")
            if descriptor != 1 { #expect(result.stderr.isEmpty) }
            if descriptor == 1 { #expect(result.stdout.isEmpty) }
        }
    }

    /// A non-interactive shell starts a background job with SIGINT ignored: coord caught it, and
    /// the command got it back at its default action (Subprocess resets every signal in a child),
    /// so a Ctrl-C meant for the script's foreground stopped the job. The command also must not
    /// inherit a signal mask from coord's own threads. Read from the kernel's table of the shell
    /// that starts coord, of coord, and of the command's shell.
    @Test(
        "coord leaves a SIGINT or SIGHUP it started with ignored, and its command gets the shell's dispositions and no blocked signal",
        arguments: [["lock", "/inherit/lock"], ["elect", "/inherit/elect"], ["members", "inherit", "--join", "m1"]], ["", "INT", "HUP"])
    func ignoredSignalsStayIgnored(command: [String], ignored: String) async throws {
        let trap = ignored.isEmpty ? "" : "trap '' \(ignored); "
        let table = { (who: String, pid: String) in "awk '/^Sig(Ign|Cgt|Blk):/ {print \"\(who)\", $1, $2}' /proc/\(pid)/status" }
        // The command's table is read by itself (the shell execs awk): a shell waiting for a
        // child blocks signals meanwhile.
        let result = try await Self.shell(
            trap + table("parent", "$$") + "; exec \"$0\" \"$@\"",
            ["--store", "memory://"] + command + ["--", "sh", "-c", table("coord", "$PPID") + "; exec " + table("command", "self")])
        #expect(result.status == 0, "\(result.stderr)")
        var masks: [String: UInt64] = [:]
        for line in result.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ")
            try #require(fields.count == 3, "\(line)")
            masks["\(fields[0]) \(fields[1])"] = UInt64(fields[2], radix: 16)
        }
        let interrupt: UInt64 = 1 << (UInt64(SIGINT) - 1), hangUp: UInt64 = 1 << (UInt64(SIGHUP) - 1)
        let coordCatches = try #require(masks["coord SigCgt:"], "\(masks)")
        #expect((coordCatches & interrupt != 0) == (ignored != "INT"), "\(masks)")
        #expect((coordCatches & hangUp != 0) == (ignored != "HUP"), "\(masks)")
        // As without coord in between: the shell's own ignored signals, nothing blocked. Except
        // glibc's own two (32 and 33, below SIGRTMIN), which its posix_spawn leaves ignored in
        // any child of a process that has their handlers.
        let glibcInternal: UInt64 = 0b11 << 31
        let commandIgnores = try #require(masks["command SigIgn:"], "\(masks)")
        #expect(commandIgnores & ~glibcInternal == masks["parent SigIgn:"].map { $0 & ~glibcInternal }, "\(masks)")
        #expect(masks["command SigBlk:"] == 0, "\(masks)")
    }

    /// coord lock's command goes through the same re-exec as a worker's shell job: started
    /// through the dynamic loader, it ran the loader and the command never started (127).
    @Test("coord lock started through the dynamic loader with SIGHUP ignored runs its command, SIGHUP still ignored")
    func lockThroughTheLoaderKeepsIgnoredSignals() async throws {
        let loader = try #require(Self.loader, "no dynamic loader")
        let result = try await Self.shell(
            "trap '' HUP; exec \(loader) \"$0\" \"$@\"",
            ["--store", "memory://", "lock", "/inherit/loader", "--", "grep", "^SigIgn:", "/proc/self/status"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let mask = result.stdout.split(whereSeparator: \.isWhitespace).last.flatMap { UInt64($0, radix: 16) }
        #expect(mask.map { $0 & (1 << (UInt64(SIGHUP) - 1)) != 0 } == true, "\(result.stdout)")
    }

    /// A worker's shell job ran under coord's supervising shell script, started by Subprocess with
    /// every signal at its default: a SIGHUP that `nohup` left ignored for coord reached the job
    /// at its default action, unlike coord lock's command. The job reads its own table.
    /// Through the dynamic loader too, where this process's executable is the loader: the re-exec
    /// that keeps SIGHUP ignored ran the loader, and every job exited 127 (seen in a full run, whose
    /// other tests left SIGHUP ignored for a moment in the test process, and so in a worker it started).
    @Test(
        "a shell job run by coord run keeps a SIGHUP that coord started with ignored, and gets SIGTERM as ever",
        arguments: ["", "HUP"], [false, true])
    func shellJobKeepsIgnoredSignals(ignored: String, throughTheLoader: Bool) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("coord-shell-signals-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let table = folder.appendingPathComponent("table").path
        let jobs = folder.appendingPathComponent("jobs.json")
        try Data(#"[{"id": "probe", "command": "grep -E '^Sig(Ign|Blk):' /proc/self/status > \#(table)"}]"#.utf8).write(to: jobs)
        let trap = ignored.isEmpty ? "" : "trap '' \(ignored); "
        let loader = throughTheLoader ? try #require(Self.loader, "no dynamic loader") + " " : ""
        let result = try await Self.shell(trap + "exec \(loader)\"$0\" \"$@\"", ["--store", "memory://", "run", jobs.path, "--until-idle"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        var masks: [String: UInt64] = [:]
        for line in try String(contentsOfFile: table, encoding: .utf8).split(separator: "\n") {
            let fields = line.split(whereSeparator: \.isWhitespace)
            try #require(fields.count == 2, "\(line)")
            masks[String(fields[0])] = UInt64(fields[1], radix: 16)
        }
        let jobIgnores = try #require(masks["SigIgn:"], "\(masks)")
        let hangUp: UInt64 = 1 << (UInt64(SIGHUP) - 1), terminate: UInt64 = 1 << (UInt64(SIGTERM) - 1)
        #expect((jobIgnores & hangUp != 0) == (ignored == "HUP"), "\(masks)")
        // The supervising script ignores SIGTERM only after starting the job: a stop still reaches it.
        #expect(jobIgnores & terminate == 0, "\(masks)")
        #expect(masks["SigBlk:"] == 0, "\(masks)")
    }

    /// Every command that catches signals decides it in one place (``SignalListener``): `kv watch`
    /// (a clean end on SIGINT) stands for the others. Still watching after the SIGINT, it shows a
    /// change made next; SIGTERM then ends it.
    @Test("coord kv watch started with SIGINT ignored keeps watching through a SIGINT", arguments: SchedulerProcessTests.servers)
    func watchIgnoresAnIgnoredInterrupt(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            let store = try await handles.open()
            let url = try #require(backend.url(handles.namespace))
            let watch = try await LineProcess(
                "/bin/sh", ["-c", "trap '' INT; exec \"$0\" \"$@\"", CoordProcess.binary.path, "--store", url, "kv", "watch", "/quiet"])
            defer { watch.stop() }
            #expect(try await watch.nextLine(within: .seconds(20)).contains("snapshot"))
            watch.kill(SIGINT)
            _ = try await store.create(try Key("/quiet"), value: Array("still here".utf8), mode: .persistent)
            let change = try await watch.nextLine(within: .seconds(20))
            #expect(change.contains("/quiet"), "\(change)")
            watch.kill(SIGTERM)
            #expect(try await watch.exitStatus(within: .seconds(20)) == 0)
        }
    }
}
