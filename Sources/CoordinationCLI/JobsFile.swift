import Coordination
import CoordinationScheduler
import Foundation

/// A jobs file, as `coord run FILE` and `coord job add --file FILE` read it: a JSON array of job
/// specs in the scheduler's JSON format (dates in epoch milliseconds, durations in `…Ms` fields,
/// `payload` in base64), plus conveniences: `"command": "echo hi"` instead of `handler` and
/// `payload` means the built-in shell handler with that command; `payloadText` is a payload
/// given as text; times may be ISO 8601 too; `shardParameters` without `shards` means one item
/// per parameter; `placement`, `misfire` and `overlap` take the flags' spellings (`round-robin`)
/// as well as the stored ones (`roundRobin`); `comment` is ignored. Unlike a stored job, a file
/// may hold no field the format does not know (see ``JobsFileFields``), and every value is
/// checked for its form first (see ``JobsFileValues``).
enum JobsFile {
    static func decode(_ bytes: [UInt8], source: String) throws -> [JobSpec] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            throw CoordinationError(
                .invalidConfiguration, "\(source) is not valid JSON: \(JSONSyntaxProblem.describe(error, in: bytes))")
        }
        if let problem = StrictJSON.problem(in: bytes) {
            throw CoordinationError(.invalidConfiguration, "\(source) is not valid JSON: \(problem)")
        }
        if let wrapped = wrapperKey(of: parsed) {
            throw CoordinationError(
                .invalidConfiguration,
                "\(source) holds an object with the jobs in its \"\(wrapped)\" array: a jobs file is that array itself; "
                    + "write [{\"id\": …}, …] with no {\"\(wrapped)\": …} around it")
        }
        // One job object is accepted as well as an array of them.
        let objects: [Any] = (parsed as? [Any]) ?? [parsed]
        var specs: [JobSpec] = []
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        for (index, element) in objects.enumerated() {
            guard var object = element as? [String: Any] else {
                throw CoordinationError(.invalidConfiguration, "\(source): job #\(index + 1) is not a JSON object")
            }
            // A long id is cut short: the message that refuses it says how long it is.
            let name = (object["id"] as? String).map { "job \($0.utf8.count > 64 ? $0.prefix(32) + "…" : $0)" } ?? "job #\(index + 1)"
            do {
                try JobsFileFields.check(object, job: name)
                try JobsFileValues.normalise(&object, job: name)
                try expandCommand(&object, job: name)
                try respell(&object, job: name)
                try JobsFileValues.refuseMisfireOfOneShot(object, job: name)
                let data = try JSONSerialization.data(withJSONObject: object)
                let spec = try decoder.decode(JobSpec.self, from: data)
                // Named by its field here: the job's own check says "retries".
                if let problem = RetryPolicy.tooManyRetries(spec.retry.maxRetries) {
                    throw CoordinationError(.invalidConfiguration, "\(name): \"retry\".\"maxRetries\" \(problem)")
                }
                try spec.validate()
                specs.append(spec)
            } catch let error as CoordinationError {
                throw CoordinationError(error.code, "\(source): \(error.message)")
            } catch {
                throw CoordinationError(.invalidConfiguration, "\(source): \(name): \(describe(error))")
            }
        }
        if let problem = repeatedIDProblem(specs.map(\.id)) {
            throw CoordinationError(.invalidConfiguration, "\(source): \(problem)")
        }
        return specs
    }

    /// The first id given to more than one job, with the positions (1-based, as other messages
    /// count jobs) of every job that has it: in a long file "defined twice" alone leaves the
    /// reader searching, and which one to rename is theirs to choose.
    static func repeatedIDProblem(_ ids: [String]) -> String? {
        guard let repeated = ids.first(where: { id in ids.filter { $0 == id }.count > 1 }) else { return nil }
        let positions = ids.indices.filter { ids[$0] == repeated }.map { "#\($0 + 1)" }
        let listed = positions.dropLast().joined(separator: ", ") + " and " + positions[positions.count - 1]
        return "job \(repeated) is defined \(positions.count == 2 ? "twice" : "\(positions.count) times"), as jobs \(listed); "
            + "an id names one job: give each its own id, or remove the extra ones"
    }

    /// The key of a lone object that holds the jobs array rather than a job (`{"jobs": […]}`,
    /// as some tools wrap a list), so that it is told apart from a job with an unknown field.
    /// An empty array is a wrapper too unless its key is a job's field (`{"shardParameters": []}`).
    private static func wrapperKey(of parsed: Any) -> String? {
        guard let object = parsed as? [String: Any], object["id"] == nil, object.count == 1,
            let (key, value) = object.first, let array = value as? [Any],
            array.contains(where: { $0 is [String: Any] }) || (array.isEmpty && !JobsFileFields.job.contains(key))
        else { return nil }
        return key
    }

    /// What a file that parses but holds no job (`[]`) is told.
    static func emptyNote(_ source: String) -> String {
        "\(source) holds no jobs (an empty array)"
    }

    /// `"command": "…"` → the shell handler with the command as payload.
    private static func expandCommand(_ object: inout [String: Any], job name: String) throws(CoordinationError) {
        guard let command = object.removeValue(forKey: "command") else {
            if object["handler"] == nil {
                throw CoordinationError(
                    .invalidConfiguration,
                    "\(name): give \"command\" (a shell command) or \"handler\" (the name of a handler registered in your workers)")
            }
            return
        }
        guard let command = command as? String else {
            throw CoordinationError(.invalidConfiguration, "\(name): \"command\" must be a string")
        }
        if let problem = JobOptions.commandProblem(command) {
            throw CoordinationError(.invalidConfiguration, "\(name): \"command\" \(problem)")
        }
        if object["handler"] != nil {
            throw CoordinationError(.invalidConfiguration, "\(name): give either \"command\" or \"handler\", not both")
        }
        object["handler"] = ShellJobHandler.name
        object["payload"] = Data(command.utf8).base64EncodedString()
    }

    /// The flags' spellings of `placement`, `misfire` and `overlap` → the stored ones; a word that
    /// is neither is refused with the valid ones.
    private static func respell(_ object: inout [String: Any], job name: String) throws(CoordinationError) {
        let fields: [(String, (String) throws(CoordinationError) -> String, String)] = [
            ("placement", { text throws(CoordinationError) in try JobValueSpellings.strategy(text).rawValue }, JobValueSpellings.strategyNames),
            ("misfire", { text throws(CoordinationError) in try JobValueSpellings.misfire(text).rawValue }, JobValueSpellings.misfireNames),
            ("overlap", { text throws(CoordinationError) in try JobValueSpellings.overlap(text).rawValue }, JobValueSpellings.overlapNames),
        ]
        for (field, stored, valid) in fields {
            guard let value = object[field] else { continue }
            guard let text = value as? String else {
                throw CoordinationError(.invalidConfiguration, "\(name): \"\(field)\" must be a string, one of: \(valid)")
            }
            do {
                object[field] = try stored(text)
            } catch {
                throw CoordinationError(.invalidConfiguration, "\(name): \"\(field)\": \(error.message)")
            }
        }
    }

    /// The file form of `specs`: shell jobs with a readable `command`, pretty-printed; the
    /// example jobs with comments that say what their fields mean and in which units.
    static func encode(_ specs: [JobSpec]) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        var objects: [Any] = []
        for spec in specs {
            var object = try JSONSerialization.jsonObject(with: try encoder.encode(spec)) as? [String: Any] ?? [:]
            if spec.handler == ShellJobHandler.name {
                object["handler"] = nil
                object["payload"] = nil
                object["command"] = String(decoding: spec.payload, as: UTF8.self)
            }
            if let comment = ExampleJobs.comment(for: spec) { object["comment"] = comment }
            objects.append(object)
        }
        let data = try JSONSerialization.data(
            withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// One compact JSON object in the scheduler's format (dates in epoch milliseconds), for `--json`.
    static func line(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// A decoding error in one line: what was wrong and where.
    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return (path.isEmpty ? "" : "\(path): ") + context.debugDescription
        default: return "\(error)"
        }
    }
}
