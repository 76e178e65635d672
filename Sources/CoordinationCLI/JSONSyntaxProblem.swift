import Foundation

/// Foundation's JSON parse error ("Error Domain=NSCocoaErrorDomain Code=3840 … around character
/// 14.") in plain words with a line and column, so that a person can find the mistake in the file.
enum JSONSyntaxProblem {
    /// What is wrong with `bytes` and where, given the error JSONSerialization threw for them.
    /// - Parameters:
    ///   - expected: what the file should hold, for an empty one.
    ///   - quotingText: whether the text found where the mistake is may be quoted; `false` where it
    ///     may be a secret (a config file's password or store URL written without quotes): the
    ///     place is named, the text not.
    static func describe(
        _ error: any Error, in bytes: [UInt8], expected: String = #"a JSON array of jobs, e.g. [{"id": "hello", "command": "echo hi"}]"#,
        quotingText: Bool = true
    ) -> String {
        let detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? "\(error)"
        if bytes.allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) }) {
            return "the file is empty; write \(expected)"
        }
        if detail.hasPrefix("Unexpected end of file") {
            return "the JSON ends early, at line \(position(bytes.count, in: bytes)) (the end of the file): a closing ], } "
                + "or \" is missing, or a true, false or null is misspelled"
        }
        if detail.hasPrefix("JSON text did not start with array or object") {
            let found = bytes.drop { [0x20, 0x09, 0x0A, 0x0D].contains($0) }.prefix { $0 >= 0x20 }.prefix(12)
            return "the file holds a lone value ('\(String(decoding: found, as: UTF8.self))'); write \(expected)"
        }
        guard var offset = byteOffset(in: detail), offset <= bytes.count else { return detail }
        if detail.hasPrefix("Invalid value") {
            // Foundation places a misspelled word (`nul`, `not json`) at its first wrong letter: point at the word.
            while offset > 0, offset <= bytes.count, isLetter(bytes[offset - 1]) { offset -= 1 }
        }
        let at = "line \(position(offset, in: bytes)) (byte \(offset))"
        if detail.hasPrefix("Invalid value") {
            guard offset < bytes.count else { return "unexpected end at \(at)" }
            let found = String(decoding: bytes[offset...].prefix(while: { $0 >= 0x20 }).prefix(12), as: UTF8.self)
            return (quotingText ? "unexpected '\(found)'" : "unexpected text") + " at \(at)" + (missesComma(before: offset, in: bytes) ? "; is a comma or colon missing before it?" : "")
        }
        if detail.hasPrefix("Unescaped control character") {
            return "a tab or line break inside a string at \(at); write it as \\t or \\n"
        }
        if detail.hasPrefix("Invalid UTF-8") {
            // Foundation's "Invalid UTF-8 sequence 3 bytes" counts the string's bytes, not the bad ones.
            return "the string starting at \(at) holds bytes that are not UTF-8; save the file as UTF-8 text"
        }
        // Other problems (a bad escape, a number with a leading zero): Foundation's words, placed.
        let what = detail.components(separatedBy: " around character").first?
            .components(separatedBy: " starting from character").first ?? detail
        return what.prefix(1).lowercased() + what.dropFirst() + " at \(at)"
    }

    static func isLetter(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }

    /// The number after "character" in Foundation's description: a byte offset, counted from 0.
    static func byteOffset(in detail: String) -> Int? {
        guard let range = detail.range(of: "around character ") ?? detail.range(of: "from character ") else { return nil }
        return Int(detail[range.upperBound...].prefix(while: \.isNumber))
    }

    /// "3, column 7" for a byte offset: lines and columns counted from 1, columns in characters.
    static func position(_ offset: Int, in bytes: [UInt8]) -> String {
        let before = bytes[..<offset]
        let line = before.filter { $0 == 0x0A }.count + 1
        let lineStart = before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let column = String(decoding: bytes[lineStart..<offset], as: UTF8.self).count + 1
        return "\(line), column \(column)"
    }

    /// `true` when a value ends just before `offset` and another begins at it (`} {`, `"a" "b"`).
    static func missesComma(before offset: Int, in bytes: [UInt8]) -> Bool {
        let ends = Set("}]\"0123456789el".utf8)
        let begins = Set("{[\"-0123456789tfn".utf8)
        guard offset < bytes.count, begins.contains(bytes[offset]) else { return false }
        let previous = bytes[..<offset].last { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        return previous.map(ends.contains) ?? false
    }
}
