import CoordinationTestSupport
import Foundation
import Testing

/// The cross-checks' Python scripts are read on both pipes at once: a script that fills one
/// while the test reads the other must not hold both for good.
@Suite("running the cross-checks' Python scripts")
struct PythonScriptOutputTests {
    @Test("a script that writes more to stderr than a pipe holds still gives its stdout")
    func aLongStderrDoesNotHoldStdout() async throws {
        // 200 KB on stderr before stdout closes: more than a pipe's 64 KiB.
        let script = "import sys; sys.stderr.write('w' * 200000); sys.stderr.flush(); print('done')"
        let output = try await withDeadline("the script's output") { try await PythonScript.run(script, [], input: Data()) }
        #expect(String(decoding: output, as: UTF8.self) == "done\n")
    }
}
