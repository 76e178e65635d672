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
        let readme = try String(
            contentsOf: tests.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
        let file = try String(contentsOf: tests.appendingPathComponent(name), encoding: .utf8)
        #expect(readme.contains("```swift\n" + file + "```\n"), "README's code block for \(name) differs from the file: copy the file into it")
    }
}
