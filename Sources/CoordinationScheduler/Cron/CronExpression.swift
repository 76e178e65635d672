public import Coordination
public import Foundation

/// A cron schedule with seconds, evaluated in UTC or in the time zone it names.
///
/// Six fields `second minute hour day-of-month month day-of-week`, or the classic five (seconds
/// are then 0). Each field takes `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n`, `a-b/n`
/// and `a/n`; months and weekdays also take names (`JAN`, `MON`); day fields take `?` as `*`;
/// weekday 0 and 7 are both Sunday. As in Vixie cron, when both day fields are restricted (neither
/// starts with `*` or `?`) a day matches if either does, else only if both do (`*/2 * MON`: odd
/// days that are Mondays). Macros: `@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`.
///
/// A first word `CRON_TZ=ZONE` (or `TZ=ZONE`), with an IANA zone such as `Europe/Paris`, makes
/// the fields that zone's wall-clock times: `CRON_TZ=Europe/Paris 0 0 3 * * *` fires at 03:00 in
/// Paris, summer and winter. Each matching wall-clock time fires once: when clocks go back and an
/// hour comes twice, at its first coming; when clocks go forward past it, at the moment they do
/// (a daily 02:30 still runs on the night 02:00 becomes 03:00), as Vixie cron does.
public struct CronExpression: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The expression as written.
    public let text: String
    /// The zone whose wall clock the fields read, from `CRON_TZ=`; `nil` for UTC.
    public let timeZone: TimeZone?
    let seconds: Set<Int>
    let minutes: Set<Int>
    let hours: Set<Int>
    let days: Set<Int>
    let months: Set<Int>
    let weekdays: Set<Int>
    let daysRestricted: Bool
    let weekdaysRestricted: Bool

    /// Parses `text`.
    /// - Throws: `invalidConfiguration` naming the field and what is wrong with it.
    public init(_ text: String) throws(CoordinationError) {
        self.text = text
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        timeZone = try Self.zonePrefix(&rest, in: text)
        let trimmed = rest.lowercased()
        let expanded = Self.macros[trimmed] ?? String(rest)
        // Counted as fields, `@every 5m` or `@reboot` were "2 fields" or "1 fields": say what they are.
        if Self.macros[trimmed] == nil, let word = trimmed.split(separator: " ").first, word.hasPrefix("@") {
            let interval = word == "@every" ? "; a fixed interval is an every schedule, not a cron expression" : ""
            throw Self.problem(
                text, "uses \(word), which is not a macro coord knows; the macros are \(Self.macroNames)\(interval)")
        }
        var fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if fields.count == 5 { fields.insert("0", at: 0) }
        guard fields.count == 6 else {
            let count = fields.count == 1 ? "1 field" : "\(fields.count) fields"
            // Quartz's 7th field, a year, is the likeliest 7th.
            let year = fields.count == 7 ? " (a year field is not taken)" : ""
            throw Self.problem(
                text, "has \(count)\(year); write 6 (second minute hour day month weekday) or 5 (minute hour day month weekday)")
        }
        seconds = try Self.parse(fields[0], Field.second, in: text)
        minutes = try Self.parse(fields[1], Field.minute, in: text)
        hours = try Self.parse(fields[2], Field.hour, in: text)
        days = try Self.parse(fields[3], Field.day, in: text)
        months = try Self.parse(fields[4], Field.month, in: text)
        weekdays = Set(try Self.parse(fields[5], Field.weekday, in: text).map { $0 % 7 })
        daysRestricted = !Self.startsAsWildcard(fields[3])
        weekdaysRestricted = !Self.startsAsWildcard(fields[5])
    }

    public var description: String { text }

    /// The first fire time strictly after `date`, or `nil` when there is none within ten years
    /// (for example `0 0 0 30 FEB *`).
    public func next(after date: Date) -> Date? {
        let instant = Int64(date.timeIntervalSince1970.rounded(.down))
        guard let zone = timeZone else { return nextMatch(after: instant).map(Self.date) }
        // The matching wall-clock times after the one `date` shows, in order; the fire time of
        // each only grows with it, so the first one past `date` is the next. Only in an hour that
        // comes twice can a later wall-clock time have fired already: its first coming was before.
        var wall = instant + Self.offset(of: zone, at: instant)
        while let match = nextMatch(after: wall) {
            let fire = Self.firstInstant(showing: match, in: zone)
            if fire > instant { return Self.date(fire) }
            wall = match
        }
        return nil
    }

    /// The first time strictly after `start` (seconds, read as UTC) that the fields match, or `nil`
    /// when there is none within ten years.
    private func nextMatch(after start: Int64) -> Int64? {
        var t = start + 1
        let limit = t + 10 * 366 * 86_400
        while t < limit {
            let (day, secondOfDay) = Self.split(t)
            let civil = CivilDate(daysSinceEpoch: day)
            if !months.contains(civil.month) {
                t = Self.startOfDay(CivilDate(year: civil.year, month: civil.month, day: 1).advancedByMonth().daysSinceEpoch)
                continue
            }
            if !matchesDay(civil, daysSinceEpoch: day) {
                t = Self.startOfDay(day + 1)
                continue
            }
            let hour = secondOfDay / 3600
            let minute = secondOfDay / 60 % 60
            let second = secondOfDay % 60
            if !hours.contains(hour) {
                t = Self.startOfDay(day) + Int64(hour + 1) * 3600
                continue
            }
            if !minutes.contains(minute) {
                t = Self.startOfDay(day) + Int64(hour) * 3600 + Int64(minute + 1) * 60
                continue
            }
            if let nextSecond = seconds.filter({ $0 >= second }).min() {
                return t - Int64(second) + Int64(nextSecond)
            }
            t = Self.startOfDay(day) + Int64(hour) * 3600 + Int64(minute + 1) * 60
        }
        return nil
    }

    /// `true` when the expression has a fire time after `date` and no more than `horizon` seconds later.
    public func fires(after date: Date, within horizon: TimeInterval) -> Bool {
        guard let next = next(after: date) else { return false }
        return next.timeIntervalSince(date) <= horizon
    }

    private func matchesDay(_ civil: CivilDate, daysSinceEpoch: Int64) -> Bool {
        // 1970-01-01 was a Thursday (weekday 4).
        let weekday = Int((daysSinceEpoch % 7 + 7 + 4) % 7)
        let dayMatch = days.contains(civil.day)
        let weekdayMatch = weekdays.contains(weekday)
        // A field starting with a wildcard may still be stepped (`*/2`): it is not a restriction
        // that widens the other, but it still narrows the days.
        return daysRestricted && weekdaysRestricted ? dayMatch || weekdayMatch : dayMatch && weekdayMatch
    }

    // MARK: Time zones

    /// Takes a leading `CRON_TZ=ZONE` or `TZ=ZONE` word off `rest`: its zone, or `nil` without one.
    static func zonePrefix(_ rest: inout Substring, in expression: String) throws(CoordinationError) -> TimeZone? {
        let word = rest.prefix { $0 != " " && $0 != "\t" }
        guard let equals = word.firstIndex(of: "="), ["CRON_TZ", "TZ"].contains(word[..<equals].uppercased()) else { return nil }
        let name = String(word[word.index(after: equals)...])
        rest = rest.dropFirst(word.count).drop { $0 == " " || $0 == "\t" }
        guard !name.isEmpty, let zone = TimeZone(identifier: name) else {
            throw problem(
                expression,
                "names the time zone '\(name)', which is not a time zone coord knows; "
                    + "write an IANA name such as Europe/Paris, America/New_York or UTC (case matters)")
        }
        return zone
    }

    static func offset(of zone: TimeZone, at instant: Int64) -> Int64 {
        Int64(zone.secondsFromGMT(for: date(instant)))
    }

    static func date(_ instant: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(instant)) }

    /// The first instant at which `zone`'s clock reads `wall` (seconds, read as UTC); when the
    /// clock skips that reading (going forward), the instant it skips at.
    static func firstInstant(showing wall: Int64, in zone: TimeZone) -> Int64 {
        // The offsets in force a day either side: the instant is within 16 hours of `wall`, and a
        // zone changes its offset at most once in two days.
        let offsets = Set([-86_400, 0, 86_400].map { offset(of: zone, at: wall + $0) })
        let showing = offsets.map { wall - $0 }.filter { $0 + offset(of: zone, at: $0) == wall }
        if let first = showing.min() { return first }
        // Skipped: before the change the clock reads less, from it on more. The first instant
        // reading more is the change.
        guard var low = offsets.map({ wall - $0 }).min(), var high = offsets.map({ wall - $0 }).max(), low < high else {
            return wall - offset(of: zone, at: wall)
        }
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if middle + offset(of: zone, at: middle) > wall { high = middle } else { low = middle }
        }
        return high
    }

    // MARK: Parsing

    struct Field {
        let name: String
        let range: ClosedRange<Int>
        let names: [String: Int]

        static let second = Field(name: "second", range: 0...59, names: [:])
        static let minute = Field(name: "minute", range: 0...59, names: [:])
        static let hour = Field(name: "hour", range: 0...23, names: [:])
        static let day = Field(name: "day-of-month", range: 1...31, names: [:])
        static let month = Field(
            name: "month", range: 1...12,
            names: ["JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12])
        static let weekday = Field(
            name: "day-of-week", range: 0...7, names: ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6])
    }

    static let macros: [String: String] = [
        "@yearly": "0 0 0 1 1 *", "@annually": "0 0 0 1 1 *", "@monthly": "0 0 0 1 * *",
        "@weekly": "0 0 0 * * 0", "@daily": "0 0 0 * * *", "@midnight": "0 0 0 * * *", "@hourly": "0 0 * * * *",
    ]

    /// The macros, for messages, in the order of their periods.
    static let macroNames = "@yearly (or @annually), @monthly, @weekly, @daily (or @midnight), @hourly"

    /// Vixie cron's test for an unrestricted day field: its first character, so `*/2` counts too.
    static func startsAsWildcard(_ field: String) -> Bool { field.hasPrefix("*") || field.hasPrefix("?") }

    static func parse(_ text: String, _ field: Field, in expression: String) throws(CoordinationError) -> Set<Int> {
        var values = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw problem(expression, "field '\(field.name)' has an empty list item in '\(text)'") }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw problem(expression, "field '\(field.name)' has more than one '/' in '\(part)'") }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed >= 1 else {
                    throw problem(expression, "field '\(field.name)' has step '\(pieces[1])'; a step must be a whole number of at least 1")
                }
                step = parsed
            }
            let base = String(pieces[0])
            var low: Int
            var high: Int
            if base == "*" || base == "?" {
                if base == "?" && field.name != Field.day.name && field.name != Field.weekday.name {
                    throw problem(expression, "field '\(field.name)' cannot be '?'; only the day fields can")
                }
                (low, high) = (field.range.lowerBound, field.range.upperBound)
                if field.name == Field.weekday.name { high = 6 }
            } else if let dash = base.firstIndex(of: "-") {
                low = try value(String(base[..<dash]), field, in: expression)
                high = try value(String(base[base.index(after: dash)...]), field, in: expression)
                guard low <= high else {
                    throw problem(expression, "field '\(field.name)' has the range '\(base)' running backwards")
                }
            } else {
                low = try value(base, field, in: expression)
                high = pieces.count == 2 ? field.range.upperBound : low
            }
            values.formUnion(stride(from: low, through: high, by: step))
        }
        return values
    }

    static func value(_ text: String, _ field: Field, in expression: String) throws(CoordinationError) -> Int {
        if let named = field.names[text.uppercased()] { return named }
        guard let number = Int(text) else {
            // Quartz's last day (L), nearest weekday (W) and nth weekday (#) look like typos otherwise.
            if field.name == "day-of-month" || field.name == "day-of-week", Self.isQuartzDay(text) {
                throw problem(
                    expression,
                    "field '\(field.name)' has '\(text)': Quartz's L (last), W (nearest weekday) and # (nth weekday) are not taken; "
                        + "list the days instead")
            }
            let hint = field.names.isEmpty ? "" : " or a name like \(field.names.sorted { $0.value < $1.value }.first!.key)"
            throw problem(expression, "field '\(field.name)' has '\(text)', which is not a number\(hint)")
        }
        guard field.range.contains(number) else {
            throw problem(expression, "field '\(field.name)' has \(number), outside \(field.range.lowerBound)-\(field.range.upperBound)")
        }
        return number
    }

    /// Quartz's day forms: `L`, `LW`, `L-3`, `15W`, `5L`, `6#3`.
    static func isQuartzDay(_ text: String) -> Bool {
        let upper = text.uppercased()
        let digits: (Substring) -> Bool = { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
        if upper == "L" || upper == "LW" { return true }
        if upper.hasPrefix("L-") { return digits(upper.dropFirst(2)) }
        if upper.hasSuffix("L") || upper.hasSuffix("W") { return digits(upper.dropLast()) }
        let parts = upper.split(separator: "#", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy(digits)
    }

    static func problem(_ expression: String, _ what: String) -> CoordinationError {
        CoordinationError(.invalidConfiguration, "cron expression '\(expression)' \(what)")
    }

    // MARK: Calendar arithmetic (UTC, proleptic Gregorian)

    static func split(_ t: Int64) -> (day: Int64, secondOfDay: Int) {
        let day = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400
        return (day, Int(t - day * 86_400))
    }

    static func startOfDay(_ day: Int64) -> Int64 { day * 86_400 }

    public init(from decoder: any Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    public static func == (lhs: CronExpression, rhs: CronExpression) -> Bool { lhs.text == rhs.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}

/// A date on the proleptic Gregorian calendar, converted to and from days since 1970-01-01.
struct CivilDate: Equatable {
    var year: Int64
    var month: Int
    var day: Int

    init(year: Int64, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Howard Hinnant's civil-from-days algorithm.
    init(daysSinceEpoch: Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    var daysSinceEpoch: Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The first day of the following month.
    func advancedByMonth() -> CivilDate {
        month == 12 ? CivilDate(year: year + 1, month: 1, day: 1) : CivilDate(year: year, month: month + 1, day: 1)
    }
}
