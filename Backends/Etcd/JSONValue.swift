/// A parsed JSON document, `Sendable`, with the accessors the gateway's replies need.
///
/// The gateway writes every int64 as a string and omits fields that are zero, false or empty, so
/// the accessors read numbers from strings or numbers alike and treat a missing field as zero.
enum JSONValue: Sendable, Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    subscript(field: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[field] }
        return nil
    }

    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var arrayValue: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }

    var boolValue: Bool {
        if case .bool(let flag) = self { return flag }
        return false
    }

    /// An int64 written either as a JSON string (the gateway's way) or as a number. A number
    /// must be a whole one that a double holds exactly (below 2^53 in magnitude): `1.5` or
    /// `9007199254740993` (read as ...992) would otherwise come back as some other integer.
    var int64Value: Int64? {
        switch self {
        case .string(let text): Int64(text)
        case .number(let number): number.magnitude < Self.exactIntegers ? Int64(exactly: number) : nil
        default: nil
        }
    }

    /// 2^53: every whole double below it in magnitude is the one integer its text named.
    private static let exactIntegers: Double = 9_007_199_254_740_992

    /// An int64 field the gateway leaves out when it is zero: 0 when absent or `null` (which
    /// proto3's JSON mapping reads as the default), `nil` when present but not an int64 (a value
    /// of another type is a malformed reply, never a zero).
    func int64(omittedAsZero field: String) -> Int64? {
        switch self[field] {
        case nil, .null: 0
        case let value?: value.int64Value
        }
    }

    /// A bool field the gateway leaves out when it is false: `false` when absent or `null`, `nil`
    /// when present but not a bool.
    func bool(omittedAsFalse field: String) -> Bool? {
        switch self[field] {
        case nil, .null: false
        case .bool(let flag): flag
        default: nil
        }
    }

    /// An array field the gateway leaves out when it is empty: `[]` when absent or `null`, `nil`
    /// when present but not an array.
    func array(omittedAsEmpty field: String) -> [JSONValue]? {
        switch self[field] {
        case nil, .null: []
        case .array(let items): items
        default: nil
        }
    }

    // MARK: Parsing and writing

    /// Parses a complete document; `nil` when `bytes` is not one (truncated, malformed, empty).
    static func parse(_ bytes: some Collection<UInt8>) -> JSONValue? {
        if let parsed = bytes.withContiguousStorageIfAvailable({ JSONParser.parse($0) }) { return parsed }
        return Array(bytes).withUnsafeBufferPointer { JSONParser.parse($0) }
    }

    /// The compact JSON text of this value.
    var serialized: [UInt8] {
        var out: [UInt8] = []
        write(into: &out)
        return out
    }

    private func write(into out: inout [UInt8]) {
        switch self {
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            for (index, name) in fields.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(name, into: &out)
                out.append(UInt8(ascii: ":"))
                fields[name]!.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let text):
            JSONValue.writeString(text, into: &out)
        case .number(let number):
            if let integer = Int64(exactly: number) {
                out.append(contentsOf: String(integer).utf8)
            } else {
                out.append(contentsOf: String(number).utf8)
            }
        case .bool(let flag):
            out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .null:
            out.append(contentsOf: "null".utf8)
        }
    }

    private static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
            case 0..<0x20:
                let hex = String(byte, radix: 16)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension JSONValue: ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral, ExpressibleByStringLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral
{
    init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    init(stringLiteral value: String) { self = .string(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(integerLiteral value: Int) { self = .number(Double(value)) }

    /// Bytes as the gateway wants them: base64.
    static func bytes(_ bytes: some Collection<UInt8>) -> JSONValue {
        .string(Base64.encode(bytes))
    }

    /// An int64 as the gateway writes it: a decimal string.
    static func int64(_ value: Int64) -> JSONValue { .string(String(value)) }

    /// Decodes a base64 field; `nil` when absent (an omitted empty value is the empty array).
    var base64Bytes: [UInt8]? {
        guard let text = stringValue else { return nil }
        return Base64.decode(text)
    }
}
