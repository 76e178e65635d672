import CoordinationTesting
import Foundation
import Testing

/// README's "A backend of your own" shows the memory store's conformance test and harness as
/// they are, so that the example a backend's author copies compiles and passes here.
@Suite struct ReadmeExampleTests {
    @Test("README shows MemoryConformanceTests.swift and MemoryHarness.swift verbatim", arguments: [
        "MemoryConformanceTests.swift", "MemoryHarness.swift",
    ])
    func readmeShowsTheFile(_ name: String) throws {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let readme = try String(contentsOf: Self.readmeURL, encoding: .utf8)
        let file = try String(contentsOf: tests.appendingPathComponent(name), encoding: .utf8)
        #expect(readme.contains("```swift\n" + file + "```\n"), "README's code block for \(name) differs from the file: copy the file into it")
    }

    /// README counts the suite's checks twice (a backend's author and "What is built" quote it);
    /// a check added or removed must change both.
    @Test("README's count of conformance checks is the suite's")
    func readmeCountsTheChecks() throws {
        let readme = try String(contentsOf: Self.readmeURL, encoding: .utf8)
        let count = ConformanceSuite.checks.count
        #expect(readme.contains("`CoordinationTesting`, \(count) named checks"), "README's \"A backend of your own\" should say \(count) named checks")
        #expect(readme.contains("each passing the \(count)\n  conformance checks"), "README's \"What is built\" should say the \(count) conformance checks")
    }

    private static var readmeURL: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
    }
}
