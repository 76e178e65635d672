import ArgumentParser
import Coordination
import CoordinationScheduler

/// What a listing (`coord jobs`, `coord runs`, `coord workers`) says of a record that does not
/// decode, written by hand or by a later coord: one such record used to fail the whole listing
/// and hide the rest.
enum UnreadableRecords {
    /// Names each of `errors` on stderr, after the listing; exits with status 7 when there is one.
    /// - Parameter rest: what became of the rest, for a record other than a job's own.
    static func report(_ errors: [CoordinationError], rest: String, layout: SchedulerLayout) throws {
        for error in errors { StandardStreams.writeError(message(error, rest: rest, layout: layout)) }
        if !errors.isEmpty { throw ExitCode(ExitStatus.invalidConfiguration.rawValue) }
    }

    static func message(_ error: CoordinationError, rest: String, layout: SchedulerLayout) -> String {
        // A decoding error's description ends its last sentence itself.
        let what = error.message.hasSuffix(".") ? String(error.message.dropLast()) : error.message
        let laterCoord = "Written by a later coord (with a schedule or a status this one cannot read)? List it with that coord"
        guard let key = error.key else { return "coord: \(what); \(rest)" }
        if (try? layout.job(key.name)) == key {
            return "coord: \(what); the other jobs are listed. \(laterCoord). Written by hand? coord job rm \(key.name) removes it"
        }
        return "coord: \(what); \(rest). \(laterCoord). Written by hand? coord kv rm \(key) removes that record alone"
    }
}
