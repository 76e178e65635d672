import Coordination
import CoordinationScheduler
import Foundation

/// The words for a job's placement, misfire and overlap policies, as `coord job add` flags and
/// jobs files both take them: the flags' kebab case (`round-robin`, `fire-once-now`) or the
/// stored JSON's camel case (`roundRobin`, `fireOnceNow`). Each error lists the valid words.
enum JobValueSpellings {
    static func strategy(_ text: String) throws(CoordinationError) -> PlacementStrategy {
        guard let strategy = PlacementStrategy(rawValue: camelCase(text)) else {
            throw CoordinationError(.invalidConfiguration, "unknown placement strategy '\(text)'; known: \(strategyNames)")
        }
        return strategy
    }

    static func misfire(_ text: String) throws(CoordinationError) -> MisfirePolicy {
        guard let policy = MisfirePolicy(rawValue: camelCase(text)) else {
            throw CoordinationError(.invalidConfiguration, "unknown misfire policy '\(text)'; known: \(misfireNames)")
        }
        return policy
    }

    static func overlap(_ text: String) throws(CoordinationError) -> OverlapPolicy {
        guard let policy = OverlapPolicy(rawValue: text) else {
            throw CoordinationError(.invalidConfiguration, "unknown overlap policy '\(text)'; known: \(overlapNames)")
        }
        return policy
    }

    static var strategyNames: String { PlacementStrategy.allCases.map { kebabCase($0.rawValue) }.joined(separator: ", ") }
    static var misfireNames: String { MisfirePolicy.allCases.map { kebabCase($0.rawValue) }.joined(separator: ", ") }
    static var overlapNames: String { OverlapPolicy.allCases.map(\.rawValue).joined(separator: ", ") }

    /// `least-loaded` → `leastLoaded`; camel case is left as it is.
    static func camelCase(_ text: String) -> String {
        let parts = text.split(separator: "-")
        guard let first = parts.first else { return text }
        return String(first) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// `leastLoaded` → `least-loaded`.
    static func kebabCase(_ text: String) -> String {
        var name = ""
        for character in text {
            if character.isUppercase { name += "-" + character.lowercased() } else { name.append(character) }
        }
        return name
    }
}

/// Times as `--at` and a jobs file's `at` and `start` take them: ISO 8601 in UTC or with an
/// offset, checked field by field. Foundation's parser rolls impossible dates and times over
/// (February 30th to March 2nd, 25:00 to 01:00 the next day, second 60 to the next minute), so
/// that a typo fired at another time than written, without a word.
enum JobTime {
    /// An example that every message can show.
    static let example = "2026-01-31T12:00:00Z"

    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// `YYYY-MM-DDTHH:MM:SS`, optional fractional seconds, then `Z` or an offset (`+01:00`, `+0100`);
    /// as RFC 3339 allows, `t` and `z` may be lower case and the `T` a space.
    /// Throws a ``Problem`` saying which field is wrong, or that the text is not of this form.
    static func parse(_ text: String) throws(Problem) -> Date {
        let bytes = Array(text.utf8)
        var index = 0
        func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += count
            return value
        }
        func literal(_ character: Character) -> Bool {
            guard index < bytes.count, bytes[index] == character.asciiValue else { return false }
            index += 1
            return true
        }
        // RFC 3339 takes `t` and `z` in lower case too, and a space between date and time: a
        // lower-case `z` was refused as "no time zone", in words that made no sense to its writer.
        func separator() -> Bool { literal("T") || literal("t") || literal(" ") }
        let notISO = Problem(description: "it is not an ISO 8601 time (YYYY-MM-DDTHH:MM:SSZ)")
        guard let year = digits(4), literal("-"), let month = digits(2), literal("-"), let day = digits(2), separator(),
            let hour = digits(2), literal(":"), let minute = digits(2)
        else { throw notISO }
        // `10:00` without its seconds is the likeliest slip: name it rather than the whole form.
        guard literal(":"), let second = digits(2) else {
            throw Problem(description: "its time of day has no seconds: write \(padded(hour)):\(padded(minute)):00")
        }
        var fraction = 0.0
        if literal(".") {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > start, let value = Double("0." + String(decoding: bytes[start..<index], as: UTF8.self)) else { throw notISO }
            fraction = value
        }
        var offset = 0
        if literal("Z") || literal("z") {
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = digits(2) else { throw notISO }
            _ = literal(":")
            guard let minutes = digits(2) else { throw notISO }
            guard hours <= 23, minutes <= 59 else {
                throw Problem(description: "its offset from UTC is out of range (at most 23:59)")
            }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            throw Problem(description: "it has no time zone: end it with Z for UTC, or an offset like +01:00")
        }
        guard index == bytes.count else { throw notISO }
        guard (1...12).contains(month) else { throw Problem(description: "month \(padded(month)) is out of range (01-12)") }
        let days = daysIn(month: month, year: year)
        guard (1...days).contains(day) else {
            throw Problem(description: "\(monthNames[month - 1]) \(year) has no day \(padded(day)) (it has \(days) days)")
        }
        guard hour <= 23 else { throw Problem(description: "hour \(padded(hour)) is out of range (00-23)") }
        guard minute <= 59 else { throw Problem(description: "minute \(padded(minute)) is out of range (00-59)") }
        guard second <= 59 else {
            throw Problem(description: "second \(padded(second)) is out of range (00-59; leap seconds are not taken)")
        }
        let seconds = daysFromEpoch(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    static let monthNames = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December",
    ]

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's `days_from_civil`).
    static func daysFromEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func padded(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }

    /// The time in whole epoch milliseconds, the form a jobs file's `at` and `start` are read
    /// into and that `--json` prints: a time with a fraction of a millisecond (`--at +10m`, taken
    /// from the clock) printed as `1796605494224.5999`, which no jobs file takes.
    static func epochMilliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// The time at whole milliseconds, as a jobs file would give it (see ``epochMilliseconds(_:)``).
    static func wholeMilliseconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: Double(epochMilliseconds(date)) / 1000)
    }

    /// A time as messages show it: ISO 8601 in UTC, to the second.
    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }
}
