import Foundation
import Synchronization

/// A process the harness starts in a process group of its own (so that it can be stopped, killed
/// and continued as a whole), its output appended to a log file. A thread of its own waits for it.
final class ChildProcess: Sendable {
    let pid: pid_t
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments` and `environment`; stdin is /dev/null, stdout and stderr go to `log`.
    init(executable: String, arguments: [String], environment: [String: String], log: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of ours: a descriptor open without close-on-exec as we spawn (the socket by
        // which Foundation sees another child's exit, a pipe to one) lived on in the child and its
        // descendants, and Foundation saw that other child's exit only once they all ended (tests
        // beside the chaos worker tests waited 30 s, a worker's `sleep 30`, for a `/bin/true`).
        _ = Self.closeFrom?(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A new process group led by the child, and default signal handling whatever ours is.
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw ChaosFailure("cannot start \(executable): \(String(cString: strerror(result)))") }
        pid = child
        Thread.detachNewThread { [self, pid] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            exitStatus.withLock { $0 = status }
        }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module
    /// does not declare; `nil` on a libc without it.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    var isRunning: Bool { exitStatus.withLock { $0 == nil } }

    /// How the process ended, once it has: "status N" or "signal N".
    var ending: String? {
        exitStatus.withLock { status in
            status.map { status in
                let signal = status & 0x7f
                return signal == 0 ? "status \((status >> 8) & 0xff)" : "signal \(signal)"
            }
        }
    }

    /// Signals the whole process group (the child and whatever it started in its group).
    func signalGroup(_ signal: Int32) {
        if isRunning { kill(-pid, signal) }
    }

    /// Waits until the process has exited; `false` when it still runs after `limit`.
    func waitForExit(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while isRunning {
            guard ContinuousClock.now < deadline else { return false }
            // The waiting thread records the exit; polling it is cheap and bounded.
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }
}
