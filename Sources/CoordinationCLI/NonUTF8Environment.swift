import Coordination
import Foundation

/// A setting's environment variable (`COORD_STORE`, `COORD_PASSWORD`, `COORD_CONFIG`…) whose bytes
/// are not UTF-8. Foundation decodes the environment with U+FFFD in place of each bad byte, so
/// `COORD_STORE` opened another store than the one named and `COORD_PASSWORD` sent another
/// password, without a word, and `COORD_CONFIG` named a file that could not be found. Found from
/// the bytes the process was given, and refused naming the variable and the byte, as
/// ``NonUTF8Argument`` refuses an argument.
enum NonUTF8Environment {
    /// The variables coord reads its settings from.
    static var settingVariables: [String] {
        CoordConfiguration.Setting.allCases.map(\.environmentVariable) + [CoordConfiguration.configFileVariable]
    }

    /// The one line to print, or `nil` when each of `names` that is set is UTF-8.
    /// - Parameter environment: variables' names and values' bytes.
    static func problem(in environment: [(name: String, value: [UInt8])], reading names: [String] = settingVariables) -> String? {
        for (name, value) in environment where names.contains(name) {
            guard let offset = NonUTF8Argument.firstInvalidByte(in: value) else { continue }
            let byte = "0x" + String(value[offset], radix: 16, uppercase: true)
            // A secret is never shown, not even in part.
            let shown = name == CoordConfiguration.Setting.password.environmentVariable ? "" : " (\(NonUTF8Argument.shown(value)))"
            return "environment variable \(name)\(shown) is not UTF-8: byte \(byte) at offset \(offset); coord reads settings as "
                + "UTF-8 text and would have turned that byte into U+FFFD. Set \(name) in UTF-8, or unset it"
        }
        return nil
    }

    /// This process's environment as the bytes it was given: each entry's name (as UTF-8) and value.
    static var processEnvironment: [(name: String, value: [UInt8])] {
        var entries: [(name: String, value: [UInt8])] = []
        var index = 0
        while let entry = environ[index] {
            index += 1
            let bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(entry).assumingMemoryBound(to: UInt8.self), count: strlen(entry)))
            guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { continue }
            entries.append((String(decoding: bytes[..<equals], as: UTF8.self), Array(bytes[(equals + 1)...])))
        }
        return entries
    }
}
