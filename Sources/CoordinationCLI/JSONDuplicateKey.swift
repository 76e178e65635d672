import Foundation

/// A key given twice in one JSON object. JSON parsers keep one of the two in silence (Foundation's
/// the last), so `{"retries": 3, …, "retries": 0}` in a jobs or config file would quietly mean
/// something other than what half of it says.
struct JSONDuplicateKey: Sendable, Equatable {
    let key: String
    /// Where its second appearance starts, as "line L, column C".
    let position: String

    /// The first key that appears twice in one object of `bytes`, which must be valid JSON (checked
    /// before: only strings, brackets, commas and colons are told apart here).
    static func first(in bytes: [UInt8]) -> JSONDuplicateKey? {
        enum Frame {
            case object(keys: Set<String>, expectingKey: Bool)
            case array
        }
        var frames: [Frame] = []
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "{"): frames.append(.object(keys: [], expectingKey: true))
            case UInt8(ascii: "["): frames.append(.array)
            case UInt8(ascii: "}"), UInt8(ascii: "]"): _ = frames.popLast()
            case UInt8(ascii: ","), UInt8(ascii: ":"):
                if case .object(let keys, _) = frames.last {
                    frames[frames.count - 1] = .object(keys: keys, expectingKey: bytes[index] == UInt8(ascii: ","))
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
                    return JSONDuplicateKey(key: key, position: JSONSyntaxProblem.position(start, in: bytes))
                }
                frames[frames.count - 1] = .object(keys: keys, expectingKey: false)
            default: break
            }
            index += 1
        }
        return nil
    }

    /// The problem in words, for a message that names the file first.
    var problem: String {
        "key '\(key)' appears twice in one object (again at line \(position)); JSON keeps only one of them: remove the other"
    }
}
