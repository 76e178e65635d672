@testable import CoordinationCLI
import Foundation
import Testing

/// Arguments whose bytes are not UTF-8 reach coord from a Latin-1 terminal or a `printf '\xff'`.
/// Swift decodes them with U+FFFD in place of each bad byte: `kv put` stored other bytes than the
/// ones given, without a word, and a key or job id was refused for a U+FFFD nobody typed.
@Suite("coord arguments that are not UTF-8")
struct NonUTF8ArgumentTests {
    /// Runs coord through `/bin/sh`, which can pass any bytes: `script` refers to coord as "$0".
    static func runThroughShell(_ coord: CoordProcess, _ script: String) async throws -> CoordProcess.Result {
        try await coord.run(["-c", script, CoordProcess.binary.path], program: URL(fileURLWithPath: "/bin/sh"))
    }

    @Test("a value, a key, a job id or a held command's word that is not UTF-8 is refused naming the argument and the byte, before any connection")
    func refusedNamingTheArgumentAndTheByte() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        // A listener that would see any connection attempt to the "remote" stores.
        let server = try LoopbackListener()
        let cases: [(command: String, argument: Int, shown: String)] = [
            (#"kv put /a "$(printf 'a\377b')""#, 6, #"'a\xFFb'"#),
            (#"kv get "/caf$(printf '\351')""#, 5, #"'/caf\xE9'"#),
            (#"job add "j$(printf '\300')" --command true"#, 5, #"'j\xC0'"#),
            (#"lock deploy -- touch "$(printf 'f\377')""#, 7, #"'f\xFF'"#),
        ]
        for store in ["memory://", "zookeeper://127.0.0.1:\(server.port)", "etcd://127.0.0.1:\(server.port)"] {
            for (command, argument, shown) in cases {
                let result = try await Self.runThroughShell(coord, #"exec "$0" --store \#(store) \#(command)"#)
                #expect(result.status == 64, "\(store) \(command): \(result.stderr)")
                #expect(result.stderrLines.count == 1, "\(store) \(command): \(result.stderr)")
                let line = try #require(result.stderrLines.first)
                #expect(line.hasPrefix("coord: argument \(argument) (\(shown)) is not UTF-8: byte 0x"), "\(line)")
                #expect(line.contains("give a binary value on stdin"), "\(line)")
                #expect(result.stdout.isEmpty, "\(store) \(command)")
                #expect(!server.hadConnection(), "\(store) \(command)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: coord.directory.appendingPathComponent("f\u{FFFD}").path))
    }

    @Test("UTF-8 text beyond ASCII is still taken")
    func utf8TextIsKept() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await Self.runThroughShell(
            coord, #"exec "$0" kv put "/caf$(printf '\303\251')" "$(printf '\342\202\254')""#)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
    }

    @Test("the first byte that breaks UTF-8 is found where it is")
    func firstInvalidByte() {
        #expect(NonUTF8Argument.firstInvalidByte(in: Array("café €".utf8)) == nil)
        #expect(NonUTF8Argument.firstInvalidByte(in: [0x61, 0xFF, 0x62]) == 1)
        // A truncated sequence, an overlong encoding and a surrogate are not UTF-8 either.
        #expect(NonUTF8Argument.firstInvalidByte(in: [0x61, 0x62, 0xC3]) == 2)
        #expect(NonUTF8Argument.firstInvalidByte(in: [0xC0, 0xAF]) == 0)
        #expect(NonUTF8Argument.firstInvalidByte(in: [0x61, 0xED, 0xA0, 0x80]) == 1)
    }
}
