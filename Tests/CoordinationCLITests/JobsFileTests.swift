import Coordination
import CoordinationScheduler
import Foundation
import Testing

@testable import CoordinationCLI

/// Reading jobs files (`coord run FILE`, `coord job add --file FILE`) without a store: what is
/// refused, with which words, and what the flags' spellings turn into.
@Suite("jobs files")
struct JobsFileTests {
    /// The message `JobsFile.decode` refuses `text` with (nil when it is accepted).
    static func refusal(_ text: String) -> String? {
        do {
            _ = try JobsFile.decode(Array(text.utf8), source: "jobs.json")
            return nil
        } catch let error as CoordinationError {
            #expect(error.code == .invalidConfiguration)
            return error.message
        } catch {
            return "\(error)"
        }
    }

    static func decode(_ text: String) throws -> JobSpec {
        let specs = try JobsFile.decode(Array(text.utf8), source: "jobs.json")
        try #require(specs.count == 1)
        return specs[0]
    }

    @Test(
        "an unknown field is refused, naming it, the job and the known fields, with the field to use instead",
        arguments: [
            (#"[{"id": "x", "command": "true", "strategy": "fastest"}]"#, [#"job x"#, #""strategy""#, #"use "placement""#]),
            (#"[{"id": "x", "command": "true", "retries": 3}]"#, [#""retries""#, #""retry": {"maxRetries": N}"#]),
            (#"[{"id": "x", "comand": "true"}]"#, [#""comand""#, #"did you mean "command"?"#]),
            (#"[{"id": "x", "command": "true", "timeout": 5}]"#, [#""timeout""#, #"use "timeoutMs""#]),
            (#"[{"id": "x", "command": "true", "shard-params": ["a"]}]"#, [#""shard-params""#, #"use "shardParameters""#]),
            (#"[{"id": "x", "command": "true", "colour": "red"}]"#, [#"unknown field "colour"; the known"#]),
            (#"[{"id": "a", "command": "true"}, {"command": "true", "cron": "* * * * *"}]"#, [#"job #2"#, #""cron""#]),
            (
                #"[{"id": "x", "command": "true", "schedule": {"kind": "every", "every": 1000}}]"#,
                [#""schedule" has the unknown field "every""#, #"use "everyMs""#, "kind, at, cron, everyMs, start"]
            ),
            (
                #"[{"id": "x", "command": "true", "retry": {"retries": 2}}]"#,
                [#""retry" has the unknown field "retries""#, #"use "maxRetries""#, "maxRetries, backoffBaseMs, backoffCapMs"]
            ),
        ])
    func unknownField(file: String, named: [String]) throws {
        let message = try #require(Self.refusal(file))
        #expect(message.hasPrefix("jobs.json: job "), "\(message)")
        for part in named { #expect(message.contains(part), "\(message)") }
        if !message.contains(#"" has the unknown"#) {
            #expect(message.hasSuffix("known fields are " + JobsFileFields.job.joined(separator: ", ")), "\(message)")
        }
    }

    @Test(
        "a key given twice in one object is refused with where it appears again, at any depth",
        arguments: [
            (#"[{"id": "x", "command": "true", "retry": {"maxRetries": 3}, "retry": {"maxRetries": 0}}]"#, "retry", "1, column 61"),
            ("[{\"id\": \"x\", \"command\": \"true\",\n  \"requiredLabels\": {\"zone\": \"a\", \"zon\\u0065\": \"b\"}}]", "zone", "2, column 35"),
            (#"{"id": "x", "id": "y", "command": "true"}"#, "id", "1, column 13"),
        ])
    func repeatedKey(file: String, key: String, position: String) throws {
        #expect(
            Self.refusal(file)
                == "jobs.json is not valid JSON: key '\(key)' appears twice in one object (again at line \(position)); JSON keeps only one of them: remove the other")
    }

    @Test(
        "a comma after the last member, which Foundation lets pass and JSON does not, is refused with where it is",
        arguments: [
            (#"[{"id": "x", "command": "true",}]"#, "1, column 31", "}"),
            ("[{\"id\": \"x\", \"command\": \"true\"},\n]", "1, column 32", "]"),
            (#"[{"id": "x", "command": "true", "shardParameters": ["a", "b" , ]}]"#, "1, column 62", "]"),
        ])
    func trailingComma(file: String, position: String, closing: String) throws {
        #expect(
            Self.refusal(file)
                == "jobs.json is not valid JSON: a comma after the last member at line \(position), before the closing \(closing): JSON allows none there; remove it")
        #expect(Self.refusal(#"[{"id": "x", "command": "echo a,}", "comment": ",]"}]"#) == nil, "commas inside strings are text")
    }

    @Test("the same key in different objects, and a key's text as a value or inside a string, are fine")
    func keysThatDoNotRepeat() throws {
        let specs = try JobsFile.decode(
            Array(#"[{"id": "a", "command": "echo \"id\": \"id\"", "requiredLabels": {"id": "id"}}, {"id": "b", "command": "true"}]"#.utf8),
            source: "jobs.json")
        #expect(specs.map(\.id) == ["a", "b"])
    }

    @Test("the known fields are exactly what a job writes, plus command, payloadText and comment")
    func knownFieldsFollowTheFormat() throws {
        // Every field at a value other than its default, so that the encoder writes it.
        let full = JobSpec(
            id: "j", handler: "h", payload: Data([1]), schedule: .every(.seconds(1), start: Date(timeIntervalSince1970: 1)),
            shards: 2, shardParameters: ["a"], priority: 1, requiredLabels: ["k": "v"], placement: .random, timeout: .seconds(1),
            retry: RetryPolicy(maxRetries: 1), misfire: .skip, overlap: .skip)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        let object = try #require(try JSONSerialization.jsonObject(with: try encoder.encode(full)) as? [String: Any])
        #expect(Set(object.keys).union(["command", "payloadText", "comment"]) == Set(JobsFileFields.job))
        #expect(Set((object["retry"] as? [String: Any])?.keys.map { $0 } ?? []) == Set(RetryPolicy.jsonFields))
        #expect(Set((object["schedule"] as? [String: Any])?.keys.map { $0 } ?? []) == ["kind", "everyMs", "start"])
    }

    @Test("placement, misfire and overlap take the flags' spellings as well as the stored ones, and store the same")
    func valueSpellings() throws {
        // Misfire policies are for recurring jobs only.
        let every = #""schedule": {"kind": "every", "everyMs": 1000}"#
        let flags = try Self.decode(
            #"[{"id": "x", "command": "true", "placement": "round-robin", "misfire": "fire-once-now", "overlap": "skip", \#(every)}]"#)
        let stored = try Self.decode(
            #"[{"id": "x", "command": "true", "placement": "roundRobin", "misfire": "fireOnceNow", "overlap": "skip", \#(every)}]"#)
        #expect(flags == stored)
        #expect(flags.placement == .roundRobin && flags.misfire == .fireOnceNow && flags.overlap == .skip)
        #expect(try Self.decode(#"{"id": "x", "handler": "h", "placement": "least-loaded"}"#).placement == .leastLoaded)
        #expect(try Self.decode(#"{"id": "x", "handler": "h", "placement": "consistent-hash"}"#).placement == .consistentHash)
        #expect(try Self.decode(#"{"id": "x", "handler": "h", "schedule": {"kind": "every", "everyMs": 1000}, "misfire": "skip"}"#).misfire == .skip)
        // What is stored keeps the stored spelling, which earlier coords read.
        #expect(JobsFile.line(flags).contains(#""placement":"roundRobin""#))
    }

    @Test(
        "a value that is no policy is refused, naming the field and the valid values",
        arguments: [
            (#"{"id": "x", "command": "true", "placement": "fastest"}"#, #""placement": unknown placement strategy 'fastest'; known: compete, round-robin, random, least-loaded, weighted, consistent-hash, broadcast"#),
            (#"{"id": "x", "command": "true", "misfire": "later"}"#, #""misfire": unknown misfire policy 'later'; known: fire-once-now, skip"#),
            (#"{"id": "x", "command": "true", "overlap": "never"}"#, #""overlap": unknown overlap policy 'never'; known: skip, queue, replace"#),
            (#"{"id": "x", "command": "true", "overlap": 1}"#, #""overlap" must be a string, one of: skip, queue, replace"#),
        ])
    func invalidValue(file: String, problem: String) throws {
        let message = try #require(Self.refusal(file))
        #expect(message == "jobs.json: job x: " + problem)
    }

    @Test(
        "JSON that does not parse is named with the file, the line and column, in plain words",
        arguments: [
            ("[\n  {\"id\": \"a\", \"command\": \"true\"}\n  {\"id\": \"b\"}\n]", "line 3, column 3 (byte 37); is a comma or colon missing"),
            ("[\n  {\"id\": \"a\", \"command\": \"true\"},\n  {\"id\": \"b\"", "the JSON ends early, at line 3, column 13 (the end of the file)"),
            ("", "the file is empty"),
            ("[{\"id\": \"a\", \"command\": \"a\tb\"}]", "a tab or line break inside a string at line 1, column 27"),
            ("[{\"id\": \"é\", x}]", "unexpected 'x}]' at line 1, column 14 (byte 14)"),
            // Foundation places a misspelled word at its first wrong letter; the message points at the word.
            ("not json", "unexpected 'not json' at line 1, column 1 (byte 0)"),
            ("[{\"id\": \"a\", \"command\": \"true\", \"shards\": nul}]", "unexpected 'nul}]' at line 1, column 43 (byte 42)"),
            ("\"hello\"", #"the file holds a lone value ('"hello"'); write a JSON array of jobs"#),
        ])
    func syntaxError(file: String, problem: String) throws {
        let message = try #require(Self.refusal(file))
        #expect(message.hasPrefix("jobs.json is not valid JSON: "), "\(message)")
        #expect(message.contains(problem), "\(message)")
        #expect(!message.contains("NSCocoaErrorDomain") && !message.contains("3840"), "\(message)")
    }

    @Test(
        "a job with nothing to run is refused",
        arguments: [
            (#"{"id": "x", "command": ""}"#, #"job x: "command" is empty"#),
            (#"{"id": "x", "command": " \t "}"#, #"job x: "command" is empty"#),
            (#"{"id": "x"}"#, #"job x: give "command" (a shell command) or "handler""#),
        ])
    func nothingToRun(file: String, problem: String) throws {
        let message = try #require(Self.refusal(file))
        #expect(message.hasPrefix("jobs.json: " + problem), "\(message)")
    }

    @Test("a cron expression that never fires is refused in a file, as on submission")
    func cronThatNeverFires() throws {
        let message = try #require(Self.refusal(#"{"id": "feb", "command": "true", "schedule": {"kind": "cron", "cron": "0 0 0 31 2 *"}}"#))
        #expect(message.hasPrefix("jobs.json: job feb: cron expression '0 0 0 31 2 *' never fires"), "\(message)")
    }

    /// 2^63-1 retries crashed every worker that claimed the job: its count of the attempts overflowed.
    @Test("more than 1,000,000 retries are refused by the field, as --retries is")
    func tooManyRetries() throws {
        let message = try #require(Self.refusal(#"{"id": "x", "command": "true", "retry": {"maxRetries": 9223372036854775807}}"#))
        #expect(message.hasPrefix(#"jobs.json: job x: "retry"."maxRetries" must be at most 1000000, got 9223372036854775807: "#), "\(message)")
        #expect(try JobsFile.decode(Array(#"{"id": "x", "command": "true", "retry": {"maxRetries": 1000000}}"#.utf8), source: "j").count == 1)
    }

    /// The job's own check named these by its own words ("timeout must be positive, got -5ms",
    /// "retry back-off base must be positive"), which are not the file's fields.
    @Test(
        "a number out of range is refused naming the file's field, its range and an example",
        arguments: [
            (#""timeoutMs": -5"#, #""timeoutMs" must be at least 1, e.g. "timeoutMs": 30000 (30 seconds); got -5"#),
            (#""timeoutMs": 0"#, #""timeoutMs" must be at least 1, e.g. "timeoutMs": 30000 (30 seconds); got 0"#),
            (#""shards": 0"#, #""shards" must be between 1 and 61, e.g. "shards": 4; got 0"#),
            (#""shards": 62"#, #""shards" must be between 1 and 61, e.g. "shards": 4; got 62"#),
            (#""retry": {"maxRetries": -1}"#, #""retry"."maxRetries" must be at least 0, e.g. "maxRetries": 3; got -1"#),
            (#""retry": {"backoffBaseMs": 0}"#, #""retry"."backoffBaseMs" must be at least 1, e.g. "backoffBaseMs": 1000 (1 second); got 0"#),
            (#""retry": {"backoffCapMs": -1}"#, #""retry"."backoffCapMs" must be at least 1, e.g. "backoffCapMs": 60000 (1 minute); got -1"#),
            (
                #""retry": {"backoffBaseMs": 5000, "backoffCapMs": 1000}"#,
                #""retry"."backoffCapMs" must be at least "backoffBaseMs" (5000): the back-off doubles from the base up to the cap; got 1000"#
            ),
            (
                #""retry": {"backoffCapMs": 500}"#,
                #""retry"."backoffCapMs" must be at least "backoffBaseMs" (1000 when it is left out): the back-off doubles from the base up to the cap; got 500"#
            ),
        ])
    func numberOutOfRange(field: String, message expected: String) throws {
        let message = try #require(Self.refusal(#"{"id": "x", "command": "true", \#(field)}"#))
        #expect(message == "jobs.json: job x: " + expected)
    }

    /// `--backoff 2m` raises the cap (a minute by default) to the back-off; the file's
    /// `"backoffBaseMs": 120000` alone was refused for a cap it never gave.
    @Test("a back-off base above the default cap, with no cap given, raises the cap to it, as --backoff does")
    func backoffBaseAboveTheDefaultCap() throws {
        let spec = try Self.decode(#"{"id": "x", "command": "true", "retry": {"maxRetries": 1, "backoffBaseMs": 120000}}"#)
        #expect(spec.retry.backoffBase == .seconds(120) && spec.retry.backoffCap == .seconds(120))
        let flags = try JobOptions.parse(["--command", "true", "--retries", "1", "--backoff", "2m"]).spec(id: "x", now: Date())
        #expect(spec.retry == flags.retry)
        // Below the default cap, the default cap stays.
        #expect(try Self.decode(#"{"id": "x", "command": "true", "retry": {"backoffBaseMs": 5000}}"#).retry.backoffCap == .seconds(60))
    }

    @Test("the example jobs (coord run --example) read back as they are")
    func exampleJobsRoundTrip() throws {
        let text = try JobsFile.encode(ExampleJobs.all)
        #expect(try JobsFile.decode(Array(text.utf8), source: "example.json") == ExampleJobs.all)
    }

    @Test(
        "a value of the wrong form is refused naming the field, the form it takes and an example",
        arguments: [
            (
                #"{"id": "x", "command": "true", "priority": 1.5}"#,
                #"job x: "priority" must be a whole number, e.g. "priority": 5; got 1.5"#
            ),
            (#"{"id": "x", "command": "true", "shards": "4"}"#, #"job x: "shards" must be a whole number, e.g. "shards": 4; got "4""#),
            (#"{"id": "x", "command": "true", "shards": true}"#, #"job x: "shards" must be a whole number, e.g. "shards": 4; got true"#),
            (
                #"{"id": "x", "command": "true", "timeoutMs": "30s"}"#,
                #"job x: "timeoutMs" must be a whole number, e.g. "timeoutMs": 30000 (30 seconds); got "30s""#
            ),
            (
                #"{"id": "x", "command": "true", "retry": {"maxRetries": "3"}}"#,
                #"job x: "retry"."maxRetries" must be a whole number, e.g. "maxRetries": 3; got "3""#
            ),
            (
                #"{"id": "x", "handler": "h", "payload": "hello"}"#,
                #"job x: "payload" must be base64 (the bytes handed to the handler), e.g. "payload": "aGVsbG8=" for hello; for text write "payloadText": "hello"; got "hello", which is not base64"#
            ),
            (
                #"{"id": "x", "command": "true", "schedule": {"kind": "once", "at": 1.5e12, "cron": "* * * * * *"}}"#,
                #"job x: "schedule" of kind "once" takes "at", not "cron""#
            ),
            (
                #"{"id": "x", "command": "true", "schedule": {"kind": "every"}}"#,
                #"job x: "schedule" of kind "every" needs "everyMs", the interval in milliseconds, e.g. "everyMs": 60000"#
            ),
            (#"{"id": "x", "command": "true", "schedule": {"kind": "daily"}}"#, #"job x: "schedule" must have a "kind" of once, cron or every"#),
            (#"{"id": "x", "command": "true", "schedule": {"kind": "cron", "cron": "61 * * * * *"}}"#, #"job x: "schedule"."cron": cron expression '61 * * * * *'"#),
            (
                #"{"id": "x", "command": "true", "requiredLabels": {"zone": 1}}"#,
                #"job x: "requiredLabels" must be an object of strings, e.g. "requiredLabels": {"zone": "a"}; got "zone": 1"#
            ),
            (#"{"id": "x", "command": "true", "shardParameters": "a,b"}"#, #"job x: "shardParameters" must be an array of strings"#),
            (
                #"{"id": "x", "command": "true", "shardParameters": ["a", 2]}"#,
                #"job x: "shardParameters" must be an array of strings, e.g. "shardParameters": ["small", "large"]; item #2 is 2, not a string"#
            ),
            (#"{"id": 7, "command": "true"}"#, #"job #1: "id" must be a string, e.g. "id": "nightly"; got 7"#),
            (#"{"command": "true"}"#, #"job #1: "id" is missing; give the job's id, e.g. "id": "nightly""#),
        ])
    func valueOfTheWrongForm(file: String, problem: String) throws {
        let message = try #require(Self.refusal(file))
        #expect(message.hasPrefix("jobs.json: " + problem), "\(message)")
        #expect(!message.contains("Expected to decode") && !message.contains("not valid JSON"), "\(message)")
    }

    @Test(
        "a time is ISO 8601 or epoch milliseconds, and an impossible one is refused by its field",
        arguments: [
            ("2027-02-30T12:00:00Z", "February 2027 has no day 30 (it has 28 days)"),
            ("2027-01-31T25:00:00Z", "hour 25 is out of range (00-23)"),
            ("2027-01-31T12:00:60Z", "second 60 is out of range (00-59; leap seconds are not taken)"),
            ("2027-01-31T12:00:00", "it has no time zone: end it with Z for UTC, or an offset like +01:00"),
            ("tomorrow", "it is not an ISO 8601 time (YYYY-MM-DDTHH:MM:SSZ)"),
            ("2027-01-31T12:30Z", "its time of day has no seconds: write 12:30:00"),
        ])
    func impossibleTime(text: String, problem: String) throws {
        let message = try #require(Self.refusal(#"{"id": "x", "command": "true", "schedule": {"kind": "once", "at": "\#(text)"}}"#))
        #expect(
            message.hasPrefix(#"jobs.json: job x: "schedule"."at" must be a time: ISO 8601, e.g. "at": "2026-01-31T12:00:00Z", or epoch milliseconds, e.g. "at": 1769860800000"#),
            "\(message)")
        #expect(message.hasSuffix(problem), "\(message)")
    }

    /// A lower-case `z` was refused as "it has no time zone: end it with Z".
    @Test(
        "a time takes what RFC 3339 allows: t and z in lower case, a space for the T",
        arguments: ["2027-01-01T00:00:00Z", "2027-01-01t00:00:00z", "2027-01-01 00:00:00Z", "2027-01-01 01:00:00+01:00"])
    func rfc3339Spellings(text: String) throws {
        let spec = try Self.decode(#"{"id": "x", "command": "true", "schedule": {"kind": "once", "at": "\#(text)"}}"#)
        #expect(spec.schedule == .once(at: Date(timeIntervalSince1970: 1_798_761_600)))
        #expect(try JobOptions.time(text, now: Date()) == Date(timeIntervalSince1970: 1_798_761_600))
    }

    @Test("what the flags take, a file takes too: ISO 8601 times, text payloads, a count of items from the parameters")
    func conveniences() throws {
        let iso = try Self.decode(#"{"id": "x", "command": "true", "schedule": {"kind": "once", "at": "2027-01-01T01:00:00+01:00"}}"#)
        let epoch = try Self.decode(#"{"id": "x", "command": "true", "schedule": {"kind": "once", "at": 1798761600000}}"#)
        #expect(iso.schedule == .once(at: Date(timeIntervalSince1970: 1_798_761_600)))
        #expect(iso == epoch)
        let example = try Self.decode(#"{"id": "x", "command": "true", "schedule": {"kind": "once", "at": "2026-01-31T12:00:00Z"}}"#)
        #expect(example.schedule == .once(at: Date(timeIntervalSince1970: 1_769_860_800)), "the example the messages give")
        let start = try Self.decode(
            #"{"id": "x", "command": "true", "schedule": {"kind": "every", "everyMs": 6e4, "start": "2027-01-01T00:00:00.250Z"}}"#)
        #expect(start.schedule == .every(.seconds(60), start: Date(timeIntervalSince1970: 1_798_761_600.25)))
        let text = try Self.decode(#"{"id": "x", "handler": "mail", "payloadText": "{\"to\": \"ops\"}", "priority": 1e3}"#)
        #expect(text.payload == Data(#"{"to": "ops"}"#.utf8) && text.priority == 1000)
        let items = try Self.decode(#"{"id": "x", "command": "true", "shardParameters": ["a", "b", "c"], "comment": "three items"}"#)
        #expect(items.shards == 3 && items.shardParameters == ["a", "b", "c"])
        #expect(try Self.decode(#"{"id": "x", "command": "true", "shards": 5, "shardParameters": ["a"]}"#).shards == 5)
    }

    @Test(
        "what the flags refuse, a file refuses too",
        arguments: [
            (#"{"id": "x", "command": "echo", "payload": "eA=="}"#, #"job x: "payload" cannot go with "command": the command is the payload"#),
            (#"{"id": "x", "command": "echo", "payloadText": "x"}"#, #"job x: "payloadText" cannot go with "command""#),
            (#"{"id": "x", "handler": "h", "payload": "eA==", "payloadText": "x"}"#, #"job x: give "payload" (base64) or "payloadText" (text), not both"#),
            (
                #"{"id": "x", "command": "true", "schedule": {"kind": "once", "at": "2020-01-01T00:00:00Z"}, "misfire": "skip"}"#,
                #"job x: "misfire" applies to jobs with a "cron" or "every" schedule only"#
            ),
            (#"{"id": "x", "command": "true", "misfire": "fire-once-now"}"#, #"job x: "misfire" applies to jobs with a "cron" or "every""#),
            (#"{"id": " x", "command": "true"}"#, "job  x: id ' x' starts or ends with a space"),
        ])
    func refusedAsByTheFlags(file: String, problem: String) throws {
        let message = try #require(Self.refusal(file))
        #expect(message.hasPrefix("jobs.json: " + problem), "\(message)")
    }

    /// Linux passes no single argument longer than 128 KiB (its NUL included): such a command
    /// failed every attempt with "Argument list too long".
    @Test("a command too long to run is refused with the limit")
    func commandTooLong() throws {
        let longest = String(repeating: "a", count: 131_071)
        #expect(try Self.decode(#"{"id": "x", "command": "\#(longest)"}"#).payload.count == 131_071)
        let message = try #require(Self.refusal(#"{"id": "x", "command": "\#(longest)b"}"#))
        #expect(message.hasPrefix(#"jobs.json: job x: "command" is 131072 bytes long; the limit is 131071 bytes"#), "\(message)")
    }

    @Test("the example file says what its fields mean and in which units, and reads back without the comments")
    func exampleFileDocumentsItsUnits() throws {
        let text = try JobsFile.encode(ExampleJobs.all)
        let jobs = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        let comments = jobs.compactMap { $0["comment"] as? String }.joined(separator: " ")
        for words in [#""timeoutMs": milliseconds"#, #""everyMs": MILLISECONDS"#, "epoch milliseconds", #""payload" (base64)"#, "backoffBaseMs"] {
            #expect(comments.contains(words), "\(comments)")
        }
        // Only the examples as they are get comments: a job of the same id does not.
        let mine = JobSpec(id: "hello", handler: "mine")
        #expect(!(try JobsFile.encode([mine])).contains("comment"))
    }
}
