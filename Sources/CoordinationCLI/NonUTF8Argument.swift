import Foundation

/// An argument whose bytes are not UTF-8 (typed in a Latin-1 terminal, or made with `printf
/// '\xff'`). Swift decodes the command line as UTF-8 and puts U+FFFD in place of each bad byte,
/// so `coord kv put /a "$(printf 'a\xffb')"` stored `a`, EF BF BD, `b` without a word, and a key
/// or an id was refused for a U+FFFD the user never typed. Found before parsing, from the bytes
/// the process was given, and refused naming the argument and the byte.
enum NonUTF8Argument {
    /// The one line to print (status 64), or `nil` when every argument is UTF-8.
    /// - Parameter arguments: the arguments' bytes, without the program's name.
    static func problem(in arguments: [[UInt8]]) -> String? {
        for (index, bytes) in arguments.enumerated() {
            guard let offset = firstInvalidByte(in: bytes) else { continue }
            let byte = "0x" + String(bytes[offset], radix: 16, uppercase: true)
            return "argument \(index + 1) (\(shown(bytes))) is not UTF-8: byte \(byte) at offset \(offset); coord reads every "
                + "argument as UTF-8 text and would have turned that byte into U+FFFD. Write keys, ids, names and options in "
                + "UTF-8; give a binary value on stdin (coord kv put KEY < FILE), and run a command given such bytes "
                + "through a script"
        }
        return nil
    }

    /// This process's arguments as the bytes it was given, without the program's name.
    static var processArguments: [[UInt8]] {
        (1..<Int(CommandLine.argc)).map { index in
            guard let argument = CommandLine.unsafeArgv[index] else { return [] }
            return Array(UnsafeBufferPointer(start: UnsafeRawPointer(argument).assumingMemoryBound(to: UInt8.self), count: strlen(argument)))
        }
    }

    /// Where the first byte that does not belong to valid UTF-8 is, if any.
    static func firstInvalidByte(in bytes: [UInt8]) -> Int? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// The argument with each byte that is not UTF-8 (and each control character) written `\x..`,
    /// cut short when long: one line that shows where the bad bytes are.
    static func shown(_ bytes: [UInt8]) -> String {
        var text = "'"
        var rest = bytes[...]
        while let first = rest.first, text.unicodeScalars.count < 60 {
            if let scalar = firstScalar(of: rest), scalar.value >= 0x20, scalar.value != 0x7F {
                text.unicodeScalars.append(scalar)
                rest = rest.dropFirst(UTF8.width(scalar))
            } else {
                text += "\\x" + (first < 0x10 ? "0" : "") + String(first, radix: 16, uppercase: true)
                rest = rest.dropFirst()
            }
        }
        return text + (rest.isEmpty ? "'" : "…'")
    }

    private static func firstScalar(of bytes: ArraySlice<UInt8>) -> Unicode.Scalar? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        if case .scalarValue(let scalar) = decoder.decode(&iterator) { return scalar }
        return nil
    }
}
