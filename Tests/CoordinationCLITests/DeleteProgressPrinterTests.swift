import Coordination
import Synchronization
import Testing
@testable import CoordinationCLI

/// What `coord kv rm --recursive` shows of a long delete, apart from the store.
@Suite("coord kv rm --recursive: progress lines")
struct DeleteProgressPrinterTests {
    @Test("off a terminal, plain lines once the delete has run a while; on one, a line redrawn in place and cleared at the end")
    func linesAndRedraws() throws {
        let key = try Key("/big")
        let written = Mutex<[String]>([])
        let plain = DeleteProgressPrinter(key: key, terminal: false, quiet: .zero, interval: .zero) { text in written.withLock { $0.append(text) } }
        plain.show(RecursiveDeleteProgress(deleted: 0, total: 1111))
        plain.show(RecursiveDeleteProgress(deleted: 512, total: 1111))
        plain.finish()
        #expect(
            written.withLock { $0 } == ["coord: deleting /big: 0/1111 keys deleted\n", "coord: deleting /big: 512/1111 keys deleted\n"])

        written.withLock { $0 = [] }
        let terminal = DeleteProgressPrinter(key: key, terminal: true, quiet: .zero, interval: .zero) { text in written.withLock { $0.append(text) } }
        terminal.show(RecursiveDeleteProgress(deleted: 1, total: 1))
        terminal.finish()
        #expect(written.withLock { $0 } == ["\r\u{1B}[2Kcoord: deleting /big: 1/1 key deleted", "\r\u{1B}[2K"])
    }

    @Test("a delete over within its first second shows nothing, on a terminal or off one")
    func aQuickDeleteIsSilent() throws {
        for terminal in [false, true] {
            let printer = DeleteProgressPrinter(key: try Key("/small"), terminal: terminal) { text in
                Issue.record("a quick delete wrote \(text.debugDescription)")
            }
            printer.show(RecursiveDeleteProgress(deleted: 0, total: 3))
            printer.show(RecursiveDeleteProgress(deleted: 3, total: 3))
            printer.finish()
        }
    }
}
