/// An absolute, validated, `/`-separated path (contract clause 1).
///
/// A `Key` can only be made through ``init(_:)``, which rejects anything that is not portable to
/// every backend, so a bad key is refused before any I/O. The rules:
/// - it starts with `/`; `/` alone is the root; there is no trailing `/`;
/// - segments are non-empty (no `//`), never `.` or `..`;
/// - characters are Unicode scalars from the Basic Multilingual Plane, excluding control characters
///   (U+0000–U+001F, U+007F–U+009F), the private-use block U+E000–U+F8FF and U+FFF0–U+FFFF:
///   ZooKeeper refuses exactly these, so every backend does;
/// - at most ``CoordinationLimits/maxKeyBytes`` UTF-8 bytes;
/// - the first segment `zookeeper` is reserved on every backend.
///
/// Keys compare by their UTF-8 bytes (not by Swift's canonical string equivalence), because
/// stores do: `é` precomposed and `e` + combining accent are two different keys.
public struct Key: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// The validated path, for example `/app/locks/job-1`.
    public let path: String

    /// The root key `/`. It always exists, cannot be written, and its children are the top-level keys.
    public static let root = Key(unchecked: "/")

    /// Validates `path` and makes a key of it.
    /// - Throws: ``CoordinationError/Code/invalidKey`` naming the key and what is wrong with it.
    public init(_ path: String) throws(CoordinationError) {
        if let problem = Key.problem(with: path, limit: CoordinationLimits.maxKeyBytes) {
            throw CoordinationError(.invalidKey, "invalid key \(Key.quoted(path)): \(problem)")
        }
        self.path = path
    }

    /// For paths already known to be valid (joins of valid keys and valid segments).
    init(unchecked path: String) {
        self.path = path
    }

    /// Returns why `path` is not a valid key, or `nil` when it is.
    public static func problem(with path: String, limit: Int) -> String? {
        if path.utf8.count <= limit, isPlainValid(path, segmentLimit: limit) { return nil }
        guard path.hasPrefix("/") else {
            return "a key must be absolute, starting with '/'"
        }
        if path == "/" { return nil }
        guard path.utf8.count <= limit else {
            return "it is \(path.utf8.count) bytes long; the limit is \(limit) bytes"
        }
        if path.hasSuffix("/") { return "a key must not end with '/'" }
        let segments = path.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for (index, segmentBytes) in segments.enumerated() {
            let segment = String(decoding: segmentBytes, as: UTF8.self)
            // Within a path an empty segment is two slashes in a row: say so, as the path shows it.
            if segment.isEmpty { return "empty segment ('//'): segments must be non-empty" }
            if let problem = segmentProblem(segment) { return problem }
            if index == 0 && segment == "zookeeper" {
                return "'/zookeeper' is reserved on every backend"
            }
        }
        return nil
    }

    /// `true` for a valid path of printable ASCII (most keys), checked in one pass over its bytes
    /// without a string per segment: keys are made for every watch event and every layout path.
    /// `false` means only that the full check must decide (and name the problem).
    static func isPlainValid(_ path: String, segmentLimit: Int) -> Bool {
        var path = path
        return path.withUTF8 { bytes in
            guard bytes.first == UInt8(ascii: "/") else { return false }
            if bytes.count == 1 { return true }
            var start = 1  // of the current segment
            var index = 1
            while index <= bytes.count {
                if index == bytes.count || bytes[index] == UInt8(ascii: "/") {
                    let length = index - start
                    guard length > 0, length <= segmentLimit else { return false }
                    if bytes[start] == UInt8(ascii: ".") && (length == 1 || (length == 2 && bytes[start + 1] == UInt8(ascii: "."))) {
                        return false
                    }
                    if start == 1 && length == 9 && Self.isReservedTop(UnsafeBufferPointer(rebasing: bytes[1..<10])) { return false }
                    start = index + 1
                } else if bytes[index] < 0x20 || bytes[index] >= 0x7F {
                    return false
                }
                index += 1
            }
            return true
        }
    }

    private static let reservedTop = Array("zookeeper".utf8)
    private static func isReservedTop(_ segment: UnsafeBufferPointer<UInt8>) -> Bool {
        segment.elementsEqual(reservedTop)
    }

    /// Returns why `segment` cannot be one segment of a key, or `nil` when it can. Its words are
    /// about the segment alone (a job's, worker's or child's name as typed), with no slash in them.
    public static func segmentProblem(_ segment: String) -> String? {
        if segment.isEmpty { return "empty segment: it has no characters" }
        if segment == "." || segment == ".." { return "segment '\(segment)' is not allowed" }
        if segment.utf8.contains(UInt8(ascii: "/")) { return "a segment must not contain '/'" }
        // Most segments are printable ASCII, valid as they are: no need to decode scalars.
        if segment.utf8.allSatisfy({ (0x20..<0x7F).contains($0) }) { return nil }
        for scalar in segment.unicodeScalars {
            let v = scalar.value
            let forbidden =
                v <= 0x1F || (0x7F...0x9F).contains(v) || (0xE000...0xF8FF).contains(v)
                || (0xFFF0...0xFFFF).contains(v) || v > 0xFFFF
            if forbidden {
                let hex = String(v, radix: 16, uppercase: true)
                let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                return "character \(code) is not allowed (control, private-use or outside the Basic Multilingual Plane)"
            }
        }
        return nil
    }

    static func quoted(_ path: String) -> String {
        var out = "'"
        // A key thousands of bytes long would bury the message: its start says which key it is.
        let shown = 80
        let scalars = path.unicodeScalars
        for scalar in scalars.prefix(shown) {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        if scalars.count > shown { out += "…' (\(path.utf8.count) bytes)"; return out }
        return out + "'"
    }

    // MARK: Structure

    /// `true` for `/`.
    public var isRoot: Bool { path == "/" }

    /// The segments, outermost first; empty for the root.
    public var segments: [String] {
        isRoot ? [] : path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    }

    /// The last segment; empty for the root.
    public var name: String {
        guard !isRoot, let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "" }
        return String(path[path.utf8.index(after: slash)...])
    }

    /// The parent key; `nil` for the root.
    public var parent: Key? {
        guard !isRoot, let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        if slash == path.startIndex { return .root }
        return Key(unchecked: String(path[..<slash]))
    }

    /// Every proper ancestor except the root, outermost first: `/a/b/c` gives `/a`, `/a/b`.
    public var ancestors: [Key] {
        var result: [Key] = []
        var current = parent
        while let key = current, !key.isRoot {
            result.append(key)
            current = key.parent
        }
        return result.reversed()
    }

    /// The child key named `segment`.
    /// - Throws: ``CoordinationError/Code/invalidKey`` when `segment` is not a valid segment.
    public func child(_ segment: String) throws(CoordinationError) -> Key {
        if let problem = Key.segmentProblem(segment) {
            throw CoordinationError(.invalidKey, "invalid key segment \(Key.quoted(segment)) under \(path): \(problem)")
        }
        let joined = isRoot ? "/" + segment : path + "/" + segment
        // A valid key and a valid segment make a valid key but for the length and the reserved
        // top segment: only those need checking (the full check then names the problem).
        if joined.utf8.count > CoordinationLimits.maxKeyBytes || (isRoot && segment == "zookeeper") {
            return try Key(joined)
        }
        return Key(unchecked: joined)
    }

    /// The child named `storedName`, a name read back from a store; `nil` when it is not a valid
    /// segment, does not fit the length limit on its own, or is `zookeeper` at the top (public, so
    /// it must not make a key ``init(_:)`` refuses: such a key reached the stores, and ZooKeeper
    /// refused it only after I/O while etcd and the embedded store wrote it). Unlike ``child(_:)``
    /// it does not apply the length limit to the whole key, which counts only what users write: a
    /// namespace plus a key of the maximum length is a longer physical path.
    public func appending(storedName: String) -> Key? {
        guard Key.segmentProblem(storedName) == nil, 1 + storedName.utf8.count <= CoordinationLimits.maxKeyBytes,
            !(isRoot && storedName == "zookeeper")
        else { return nil }
        return Key(unchecked: isRoot ? "/" + storedName : path + "/" + storedName)
    }

    /// The key of a whole path read back from a store (a znode path): `nil` unless every segment is
    /// valid and fits the length limit on its own, and the first is not the reserved `zookeeper`.
    /// Like ``appending(storedName:)`` it does not apply the limit to the whole path. Checked in
    /// one pass: watch signals name a path each, and building it segment by segment was about 5%
    /// of a ZooKeeper worker's CPU.
    public init?(storedPath path: String) {
        if Key.isPlainValid(path, segmentLimit: CoordinationLimits.maxKeyBytes - 1) {
            self.init(unchecked: path)
            return
        }
        guard path.hasPrefix("/") else { return nil }
        if path == "/" {
            self = .root
            return
        }
        let segments = path.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for (index, bytes) in segments.enumerated() {
            guard 1 + bytes.count <= CoordinationLimits.maxKeyBytes else { return nil }
            let segment = String(decoding: bytes, as: UTF8.self)
            if Key.segmentProblem(segment) != nil || (index == 0 && segment == "zookeeper") { return nil }
        }
        self.init(unchecked: path)
    }

    /// This key with `relative`'s segments appended: `/ns` + `/a/b` is `/ns/a/b`.
    /// Used to place a key under a namespace; the result cannot escape `self`.
    public func appending(_ relative: Key) -> Key {
        if relative.isRoot { return self }
        if isRoot { return relative }
        return Key(unchecked: path + relative.path)
    }

    /// `true` when `self` is `other` or lies beneath it. `/app2` is *not* under `/app`.
    public func isUnder(_ other: Key) -> Bool {
        if other.isRoot || self == other { return true }
        return path.utf8.starts(with: other.path.utf8) && path.utf8.dropFirst(other.path.utf8.count).first == UInt8(ascii: "/")
    }

    /// `self` relative to `ancestor`: `/ns/a/b` relative to `/ns` is `/a/b`; `nil` when not under it.
    public func relative(to ancestor: Key) -> Key? {
        guard isUnder(ancestor) else { return nil }
        if ancestor.isRoot { return self }
        if self == ancestor { return .root }
        return Key(unchecked: String(path.utf8.dropFirst(ancestor.path.utf8.count))!)
    }

    /// How many segments deep: 0 for the root.
    public var depth: Int { isRoot ? 0 : path.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "/") ? 1 : 0) } }

    // MARK: Byte-wise identity

    // Byte-wise, not String's Unicode equivalence: two keys are equal only with the same bytes,
    // as on the servers. Compared as contiguous buffers, since keys index every view and watch.
    public static func == (lhs: Key, rhs: Key) -> Bool {
        lhs.path.utf8.count == rhs.path.utf8.count && compareBytes(lhs, rhs) == 0
    }
    public func hash(into hasher: inout Hasher) {
        var path = path
        path.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
    /// Byte-wise order of the UTF-8 path, the order etcd keeps its keys in.
    public static func < (lhs: Key, rhs: Key) -> Bool { compareBytes(lhs, rhs) < 0 }

    /// memcmp-style three-way comparison of the UTF-8 paths (a prefix sorts first).
    private static func compareBytes(_ lhs: Key, _ rhs: Key) -> Int {
        var (left, right) = (lhs.path, rhs.path)
        return left.withUTF8 { a in
            right.withUTF8 { b in
                for index in 0..<min(a.count, b.count) where a[index] != b[index] {
                    return a[index] < b[index] ? -1 : 1
                }
                return a.count - b.count
            }
        }
    }

    public var description: String { path }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        self = try Key(try container.decode(String.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(path)
    }
}

extension Key {
    /// Sorts names the way `children(of:)` returns them: by UTF-8 bytes.
    public static func sortedNames<S: Sequence<String>>(_ names: S) -> [String] {
        names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Formats a sequence number as the 10-digit zero-padded suffix of a sequential key.
    public static func sequenceSuffix(_ number: Int64) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, CoordinationLimits.sequenceDigits - digits.count)) + digits
    }
}
