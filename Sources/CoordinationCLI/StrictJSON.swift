import Foundation

/// What Foundation's JSON parser lets pass that JSON does not allow, in a file a person wrote:
/// - a key given twice in one object: parsers keep one of the two in silence (Foundation's the
///   last), so `{"retries": 3, …, "retries": 0}` in a jobs or config file would quietly mean
///   something other than what half of it says;
/// - a comma after the last member of an object or array, which other tools (jq, etcdctl, Python)
///   refuse: a file coord takes should be one they take too.
enum StrictJSON {
    /// The first such problem in `bytes`, which must be valid to Foundation (parsed before: only
    /// strings, brackets, commas and colons are told apart here), in words with its line and
    /// column, for a message that names the file first; `nil` when there is none.
    static func problem(in bytes: [UInt8]) -> String? {
        enum Frame {
            case object(keys: Set<String>, expectingKey: Bool)
            case array
        }
        var frames: [Frame] = []
        // Where the last comma is, while nothing but white space has followed it.
        var pendingComma: Int?
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if let comma = pendingComma, byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                return "a comma after the last member at line \(JSONSyntaxProblem.position(comma, in: bytes)), before the "
                    + "closing \(byte == UInt8(ascii: "}") ? "}" : "]"): JSON allows none there; remove it"
            }
            if ![0x20, 0x09, 0x0A, 0x0D].contains(byte) { pendingComma = nil }
            switch byte {
            case UInt8(ascii: "{"): frames.append(.object(keys: [], expectingKey: true))
            case UInt8(ascii: "["): frames.append(.array)
            case UInt8(ascii: "}"), UInt8(ascii: "]"): _ = frames.popLast()
            case UInt8(ascii: ","), UInt8(ascii: ":"):
                if byte == UInt8(ascii: ",") { pendingComma = index }
                if case .object(let keys, _) = frames.last {
                    frames[frames.count - 1] = .object(keys: keys, expectingKey: byte == UInt8(ascii: ","))
                }
            case UInt8(ascii: "\""):
                let start = index
                index += 1
                while index < bytes.count && bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard case .object(var keys, true) = frames.last else { break }
                // Decoded, so that "a" and "\u0061" are the same key, as they are to a parser.
                let text = bytes[start...min(index, bytes.count - 1)]
                let key = (try? JSONSerialization.jsonObject(with: Data(text), options: .fragmentsAllowed)) as? String ?? ""
                if !keys.insert(key).inserted {
                    return "key '\(key)' appears twice in one object (again at line \(JSONSyntaxProblem.position(start, in: bytes))); "
                        + "JSON keeps only one of them: remove the other"
                }
                frames[frames.count - 1] = .object(keys: keys, expectingKey: false)
            default: break
            }
            index += 1
        }
        return nil
    }
}
