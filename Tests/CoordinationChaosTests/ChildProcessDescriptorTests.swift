import Foundation
import Testing

@testable import CoordinationChaos

/// A chaos child inherits none of the harness's descriptors but its standard three: one open
/// without close-on-exec as it spawned (the socket by which Foundation sees another child's exit)
/// lived on in it and its descendants, and Foundation saw that other child's exit only once they
/// all ended (tests beside the chaos worker tests waited 30 s for a `/bin/true`).
@Suite("The chaos harness's children")
struct ChildProcessDescriptorTests {
    @Test("a child started by the harness holds none of its descriptors open without close-on-exec")
    func childInheritsNoDescriptor() async throws {
        var ends: [Int32] = [-1, -1]
        try #require(pipe(&ends) == 0)  // without O_CLOEXEC, as Foundation's own are
        defer { for end in ends { close(end) } }
        let log = NSTemporaryDirectory() + "chaos-child-fds-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let child = try ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "for f in /proc/$$/fd/*; do echo ${f##*/}; done"], environment: [:], log: log)
        #expect(await child.waitForExit(within: .seconds(30)), "the child listed its descriptors")
        let held = Set(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").compactMap { Int32($0) })
        #expect(held.isSuperset(of: [0, 1, 2]), "\(held.sorted())")
        #expect(held.isDisjoint(with: ends), "the child holds the harness's pipe \(ends): \(held.sorted())")
    }
}
