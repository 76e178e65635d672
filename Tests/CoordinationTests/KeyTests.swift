import Coordination
import Foundation
import Testing

@Suite struct KeyTests {
    @Test(arguments: [
        ("relative/key", "absolute"),
        ("", "absolute"),
        ("/a/", "end with '/'"),
        ("/a//b", "empty segment"),
        ("/a/./b", "'.'"),
        ("/a/../b", "'..'"),
        ("/..", "'..'"),
        ("/a\u{0}b", "U+0000"),
        ("/a\u{1F}", "U+001F"),
        ("/a\u{7F}", "U+007F"),
        ("/a\u{85}", "U+0085"),
        ("/a\u{E000}", "U+E000"),
        ("/a\u{FFFE}", "U+FFFE"),
        ("/emoji\u{1F600}", "U+1F600"),
        ("/zookeeper", "reserved"),
        ("/zookeeper/quota", "reserved"),
    ])
    func rejectsWithAReason(path: String, reason: String) {
        do {
            _ = try Key(path)
            Issue.record("\(path.debugDescription) was accepted")
        } catch {
            #expect(error.code == .invalidKey)
            #expect(error.message.contains(reason), "\(error.message)")
            #expect(error.message.hasPrefix("invalid key '"), "names the key: \(error.message)")
        }
    }

    @Test func aLongKeyIsNamedByItsStartAndLength() {
        let long = "/" + String(repeating: "a", count: 3000)
        #expect(throws: CoordinationError.self) { try Key(long) }
        do {
            _ = try Key(long)
        } catch {
            #expect(error.message.hasPrefix("invalid key '/" + String(repeating: "a", count: 79) + "…' (3001 bytes): "), "\(error.message)")
            #expect(error.message.count < 200, "the message stays readable: \(error.message.count) characters")
        }
    }

    @Test(arguments: ["/", "/a", "/a/b-c_d.e", "/zookeeperx", "/a/zookeeper", "/sp ace/%2e%2e/x:y", "/é/日本", "/a/.hidden", "/a/..."])
    func accepts(path: String) throws {
        #expect(try Key(path).path == path)
    }

    /// A path read back from a store is refused for the same bad segments as a key, but may be
    /// longer than a key as a whole (a namespace plus a key of the maximum length).
    @Test func storedPathsCheckSegmentsNotTheWholeLength() throws {
        for (path, _) in [
            ("relative/key", ""), ("", ""), ("/a/", ""), ("/a//b", ""), ("/a/./b", ""), ("/a/../b", ""), ("/a\u{0}b", ""),
            ("/a\u{E000}", ""), ("/zookeeper", ""), ("/zookeeper/quota", ""),
        ] {
            #expect(Key(storedPath: path) == nil, "\(path.debugDescription)")
        }
        for path in ["/", "/a", "/a/zookeeper", "/sp ace/%2e%2e/x:y", "/é/日本", "/a/..."] {
            #expect(Key(storedPath: path) == (try Key(path)))
        }
        let segment = String(repeating: "s", count: CoordinationLimits.maxKeyBytes - 1)
        let long = "/ns/" + segment
        #expect(Key(storedPath: long)?.path == long, "longer than a key, each segment within the limit")
        #expect(Key(storedPath: "/ns/" + segment + "s") == nil, "a segment no key could have")
    }

    /// Plain ASCII keys are checked by a one-pass fast path: it must agree with the rules on every
    /// path, valid or not, with or without characters it leaves to the full check.
    @Test func fastAndFullChecksAgree() {
        // The rules, written out plainly.
        func valid(_ path: String) -> Bool {
            guard path.hasPrefix("/") else { return false }
            if path == "/" { return true }
            guard path.utf8.count <= CoordinationLimits.maxKeyBytes else { return false }
            let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            if segments.first == "zookeeper" { return false }
            return segments.allSatisfy { segment in
                !segment.isEmpty && segment != "." && segment != ".."
                    && segment.unicodeScalars.allSatisfy { v in
                        !(v.value <= 0x1F || (0x7F...0x9F).contains(v.value) || (0xE000...0xF8FF).contains(v.value) || v.value > 0xFFEF)
                    }
            }
        }
        let alphabet: [String] = ["/", "/", ".", "a", "z", "zookeeper", " ", "~", "\u{7F}", "\u{0}", "é", "\u{E000}", "\u{9F}"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let path = (0..<Int.random(in: 0...7, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            #expect(((try? Key(path)) != nil) == valid(path), "\(path.debugDescription)")
            #expect((Key(storedPath: path) != nil) == valid(path), "\(path.debugDescription)")
        }
        #expect(throws: CoordinationError.self) { try Key("/" + String(repeating: "a", count: CoordinationLimits.maxKeyBytes)) }
    }

    @Test func lengthLimitCountsUTF8Bytes() throws {
        let longest = "/" + String(repeating: "é", count: (CoordinationLimits.maxKeyBytes - 1) / 2)
        #expect(try Key(longest).path.utf8.count <= CoordinationLimits.maxKeyBytes)
        let tooLong = "/" + String(repeating: "a", count: CoordinationLimits.maxKeyBytes)
        #expect(throws: CoordinationError.self) { try Key(tooLong) }
    }

    @Test func structure() throws {
        let key = try Key("/a/b/c")
        #expect(key.name == "c")
        #expect(key.parent == (try Key("/a/b")))
        #expect(key.ancestors == [try Key("/a"), try Key("/a/b")])
        #expect(key.segments == ["a", "b", "c"])
        #expect(key.depth == 3)
        #expect(Key.root.parent == nil && Key.root.name == "" && Key.root.depth == 0)
        #expect(try Key("/a").parent == .root)
        #expect(try Key.root.child("x") == (try Key("/x")))
        #expect(throws: CoordinationError.self) { try key.child("..") }
        #expect(throws: CoordinationError.self) { try key.child("x/y") }
    }

    @Test func namespacesCannotBeEscapedOrConfusedWithSiblings() throws {
        let app = try Key("/app")
        #expect(app.appending(try Key("/a/b")) == (try Key("/app/a/b")))
        #expect(app.appending(.root) == app)
        #expect(Key.root.appending(app) == app)
        #expect(try Key("/app/x").isUnder(app))
        #expect(app.isUnder(app))
        #expect(try Key("/app2/x").isUnder(app) == false)
        #expect(try Key("/ap").isUnder(app) == false)
        #expect(try Key("/app2/x").relative(to: app) == nil)
        #expect(try Key("/app/x/y").relative(to: app) == (try Key("/x/y")))
        #expect(app.relative(to: app) == .root)
    }

    @Test func identityIsByteWiseNotCanonical() throws {
        let precomposed = try Key("/caf\u{E9}")
        let decomposed = try Key("/cafe\u{301}")
        #expect(precomposed != decomposed, "Swift strings compare these equal; stores do not")
        #expect(Set([precomposed, decomposed]).count == 2)
        #expect(try Key("/a/b") < (try Key("/a0")), "'/' (0x2F) sorts before '0' (0x30)")
        #expect(Key.sortedNames(["b", "a-1", "a", "B", "é"]) == ["B", "a", "a-1", "b", "é"])
    }

    @Test func sequenceSuffixIsTenDigits() {
        #expect(Key.sequenceSuffix(0) == "0000000000")
        #expect(Key.sequenceSuffix(42) == "0000000042")
        #expect(Key.sequenceSuffix(2_147_483_647) == "2147483647")
    }

    @Test func codableValidates() throws {
        #expect(throws: (any Error).self) { try decodeKey("\"relative\"") }
        #expect(try decodeKey("\"/a/b\"") == (try Key("/a/b")))
    }

    private func decodeKey(_ json: String) throws -> Key {
        try JSONDecoder().decode(Key.self, from: Data(json.utf8))
    }
}
