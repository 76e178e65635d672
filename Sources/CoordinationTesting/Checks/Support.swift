import Coordination

/// The UTF-8 bytes of `text`, for values.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Asserts that `path` is refused as a key with `invalidKey`, by a message that contains
/// `mentioning` (by default the path itself: the message names the key).
func expectInvalidKey(_ path: String, mentioning: String? = nil, file: String = #fileID, line: Int = #line) throws {
    let error = try expectThrowsNow(code: .invalidKey, "Key(\(path.debugDescription))", file: file, line: line) {
        try Key(path)
    }
    let needle = mentioning ?? path
    try expect(
        error.message.contains(needle),
        "the invalidKey message for \(path.debugDescription) must name \(needle.debugDescription): \(error.message)",
        file: file, line: line)
}

/// Asserts that `path` is a valid key and returns it.
func expectValidKey(_ path: String, file: String = #fileID, line: Int = #line) throws -> Key {
    do {
        return try Key(path)
    } catch {
        throw failure("\(path.debugDescription) must be a valid key, got \(error)", file: file, line: line)
    }
}

/// The keys under `key` (walk), as a sorted list, for comparisons.
func keysUnder(_ key: Key, in store: any CoordinationStore) async throws -> [Key] {
    try await store.records(under: key).map(\.key).sorted()
}

/// Checks that the suffix after `prefix` in `name` is a 10-digit, zero-padded number and returns it.
func sequenceNumber(of name: String, prefix: String, file: String = #fileID, line: Int = #line) throws -> Int64 {
    try expect(name.hasPrefix(prefix), "sequential name \(name) must start with the prefix \(prefix)", file: file, line: line)
    let suffix = name.dropFirst(prefix.count)
    try expect(
        suffix.count == CoordinationLimits.sequenceDigits && suffix.allSatisfy { $0.isASCII && $0.isNumber },
        "sequential name \(name) must end with exactly \(CoordinationLimits.sequenceDigits) digits after \(prefix)",
        file: file, line: line)
    return try require(Int64(suffix), "the sequence number of \(name)", file: file, line: line)
}

extension OperationResult {
    var createdRecord: Record? {
        if case .created(let record) = self { return record }
        return nil
    }
    var setRecord: Record? {
        if case .set(let record) = self { return record }
        return nil
    }
}
