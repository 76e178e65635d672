@testable import CoordinationCLI
import Foundation
import Testing

/// Settings whose bytes are not UTF-8, from the environment or a config file. Foundation decodes
/// the environment with U+FFFD in place of each bad byte: `COORD_STORE` opened another store than
/// the one named, and `COORD_PASSWORD` sent another password, without a word.
@Suite("coord settings that are not UTF-8")
struct NonUTF8EnvironmentTests {
    @Test(
        "a setting's environment variable that is not UTF-8 is refused naming the variable and the byte, status 7; a password is never shown",
        arguments: [
            ("COORD_STORE", #"memory://a\377b"#, #" ('memory://a\xFFb') is not UTF-8: byte 0xFF at offset 10"#),
            ("COORD_LOG_LEVEL", #"inf\351"#, #" ('inf\xE9') is not UTF-8: byte 0xE9 at offset 3"#),
            ("COORD_PASSWORD", #"secret\377"#, " is not UTF-8: byte 0xFF at offset 6"),
            ("COORD_CONFIG", #"/tmp/coord\300.json"#, #" ('/tmp/coord\xC0.json') is not UTF-8: byte 0xC0 at offset 10"#),
        ])
    func refusedNamingTheVariable(name: String, printfValue: String, said: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let script = #"\#(name)="$(printf '\#(printfValue)')" COORD_USERNAME=u exec "$0" kv ls /"#
        let result = try await coord.run(["-c", script, CoordProcess.binary.path], program: URL(fileURLWithPath: "/bin/sh"))
        #expect(result.status == 7, "\(result.stderr)")
        #expect(
            result.stderrLines == [
                "coord: environment variable \(name)\(said); coord reads settings as UTF-8 text and would have turned that byte "
                    + "into U+FFFD. Set \(name) in UTF-8, or unset it"
            ], "\(result.stderr)")
        #expect(!result.stderr.contains("secret"))
    }

    @Test("a variable coord does not read may hold any bytes")
    func otherVariablesAreLeftAlone() {
        let environment: [(name: String, value: [UInt8])] = [("COORD_FENCING_TOKEN", [0xFF]), ("LANG", [0xC0]), ("COORD_STORE", Array("memory://".utf8))]
        #expect(NonUTF8Environment.problem(in: environment) == nil)
    }

    /// Already so before the environment's check: named, with the fix.
    @Test("a config file holding bytes that are not UTF-8 is refused naming the file, status 7")
    func configFileNamed() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = coord.directory.appendingPathComponent("coord.json")
        try Data(#"{"store": "memory://a"#.utf8 + [0xFF] + #""}"#.utf8).write(to: url)
        let result = try await coord.run(["--config", url.path, "kv", "ls", "/"])
        #expect(result.status == 7, "\(result.stderr)")
        #expect(result.stderrLines.count == 1 && result.stderr.hasPrefix("coord: config file \(url.path) is not valid JSON: "), "\(result.stderr)")
        #expect(result.stderr.contains("holds bytes that are not UTF-8; save the file as UTF-8 text"), "\(result.stderr)")
    }
}
