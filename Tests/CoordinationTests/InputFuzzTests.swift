import Coordination
import PropertyBased
import Testing

/// Random keys and store URLs, assembled from the pieces that break parsers (separators, dot
/// segments, percent escapes, control and non-ASCII characters): no input crashes, every
/// rejection is a `CoordinationError` with the code that names the problem, and what is accepted
/// is well formed.
@Suite struct InputFuzzTests {
    static let keyPieces = [
        "/", "//", "a", "b0", ".", "..", "%2F", "%2e%2e", "~", " ", "\u{0}", "\u{7F}", "\t", "\n", "é", "😀", "-", "_",
        "app", "app2", "\\", "*", "?", "#",
    ]

    @Test func everyKeyIsWellFormedOrRejectedAsAnInvalidKey() async {
        await propertyCheck(count: 3000, input: Self.pieces(Self.keyPieces, upTo: 10)) { text in
            do {
                let key = try Key(text)
                #expect(key.path.hasPrefix("/"), "an accepted key is absolute: \(text.debugDescription)")
                let components = key.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
                #expect(key.isRoot || !components.contains { $0.isEmpty || $0 == "." || $0 == ".." }, "no empty or dot segment in \(key.path.debugDescription)")
                #expect(try Key(key.path) == key, "an accepted key parses to itself again")
                if let parent = key.parent { #expect(key.isUnder(parent)) }
            } catch let error as CoordinationError {
                #expect(error.code == .invalidKey, "\(text.debugDescription) was refused as \(error.code)")
            } catch {
                Issue.record("\(text.debugDescription) threw \(type(of: error)), not CoordinationError")
            }
        }
    }

    /// `child(_:)` checks only the segment, the length and the reserved top name (the parent is
    /// valid already): it must accept and refuse exactly what the full check of the joined path does.
    @Test func aChildIsAcceptedExactlyWhenItsWholePathIs() async {
        let parents = [Key.root, try! Key("/a"), try! Key("/" + String(repeating: "p", count: CoordinationLimits.maxKeyBytes - 8))]
        let segmentPieces = Self.keyPieces + ["zookeeper", "\u{E000}", "\u{FFFF}", "\u{85}", "abcdefgh"]
        await propertyCheck(count: 3000, input: Gen.int(in: 0...2), Self.pieces(segmentPieces, upTo: 4)) { index, segment in
            let parent = parents[index]
            let joined = parent.isRoot ? "/" + segment : parent.path + "/" + segment
            // One segment exactly: a valid whole path whose last segment is all of `segment`.
            let whole = segment.isEmpty || segment.contains("/") ? nil : try? Key(joined)
            do {
                let child = try parent.child(segment)
                #expect(child == whole, "\(segment.debugDescription) under \(parent.path.prefix(20)) accepted, but the full check says \(String(describing: whole))")
            } catch let error as CoordinationError {
                #expect(error.code == .invalidKey)
                #expect(whole == nil, "\(segment.debugDescription) under \(parent.path.prefix(20)) refused, but the full check accepts it")
            } catch {
                Issue.record("\(segment.debugDescription) threw \(type(of: error)), not CoordinationError")
            }
        }
    }

    static let urlPieces = [
        "memory://", "zookeeper://", "etcd://", "etcds://", "http://", "://", "127.0.0.1", "localhost", ":2181", ":0",
        ":99999", ":-1", ",", "/ns", "/a/b", "/..", "//", "?", "ttl=5s", "ttl=abc", "sessionTimeout=2s", "&", "=",
        "user:pw@", "@", "%", "%zz", "[::1]", "#frag", " ", "cacert=/tmp/x", "\u{0}", "é",
    ]

    /// Up to `count` of `pieces`, chosen with repetition and joined.
    static func pieces(_ pieces: [String], upTo count: Int) -> Generator<String, some SendableMetatype & Sequence> {
        Gen.int(in: 0...(pieces.count - 1)).array(of: 0...count).map { $0.map { pieces[$0] }.joined() }
    }

    @Test func everyStoreURLParsesOrIsRejectedAsInvalidConfiguration() async {
        await propertyCheck(count: 3000, input: Self.pieces(Self.urlPieces, upTo: 9)) { text in
            do {
                let url = try StoreURL(text)
                #expect(!url.scheme.isEmpty, "an accepted URL names its scheme: \(text.debugDescription)")
                if let password = url.password, !password.isEmpty {
                    #expect(
                        !url.description.hasPrefix("\(url.scheme)://\(url.user ?? ""):\(password)@"),
                        "the password never shows: \(url.description)")
                }
            } catch let error as CoordinationError {
                #expect(
                    [.invalidConfiguration, .invalidKey].contains(error.code),
                    "\(text.debugDescription) was refused as \(error.code)")
                #expect(!error.message.contains(":pw@"), "the password never shows: \(error.message)")
            } catch {
                Issue.record("\(text.debugDescription) threw \(type(of: error)), not CoordinationError")
            }
        }
    }
}
