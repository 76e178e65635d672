/// Standard base64 with padding, as the gateway writes `bytes` fields (Go's `encoding/json`).
///
/// Every key and value of every request and reply goes through here; Foundation's version made a
/// `Data` and a `String` each way, which showed in the client's profile.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// 0–63 for an alphabet byte, 0xFF for anything else.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// Appends the base64 text of `bytes` to `out`.
    static func encode(_ bytes: some Collection<UInt8>, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + (bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            let chunk = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            out.append(alphabet[Int(chunk >> 18 & 0x3F)])
            out.append(alphabet[Int(chunk >> 12 & 0x3F)])
            out.append(second == nil ? UInt8(ascii: "=") : alphabet[Int(chunk >> 6 & 0x3F)])
            out.append(third == nil ? UInt8(ascii: "=") : alphabet[Int(chunk & 0x3F)])
        }
    }

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        encode(bytes, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of padded base64 `text`; `nil` for anything else (bad length, byte, or padding).
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var text = String(text)
        return text.withUTF8 { decode($0) }
    }

    static func decode(_ encoded: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard encoded.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(encoded.count / 4 * 3)
        var index = 0
        while index < encoded.count {
            let last = index + 4 == encoded.count
            let a = values[Int(encoded[index])], b = values[Int(encoded[index + 1])]
            guard a != 0xFF, b != 0xFF else { return nil }
            let padC = last && encoded[index + 2] == UInt8(ascii: "=")
            let padD = last && encoded[index + 3] == UInt8(ascii: "=")
            guard !padC || padD else { return nil }  // "x=" then a letter
            let c = padC ? 0 : values[Int(encoded[index + 2])]
            let d = padD ? 0 : values[Int(encoded[index + 3])]
            guard c != 0xFF, d != 0xFF else { return nil }
            let chunk = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
            out.append(UInt8(chunk >> 16 & 0xFF))
            if !padC { out.append(UInt8(chunk >> 8 & 0xFF)) }
            if !padD { out.append(UInt8(chunk & 0xFF)) }
            index += 4
        }
        return out
    }
}
