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

    @Test("the known fields are exactly what a job writes, plus command")
    func knownFieldsFollowTheFormat() throws {
        // Every field at a value other than its default, so that the encoder writes it.
        let full = JobSpec(
            id: "j", handler: "h", payload: Data([1]), schedule: .every(.seconds(1), start: Date(timeIntervalSince1970: 1)),
            shards: 2, shardParameters: ["a"], priority: 1, requiredLabels: ["k": "v"], placement: .random, timeout: .seconds(1),
            retry: RetryPolicy(maxRetries: 1), misfire: .skip, overlap: .skip)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        let object = try #require(try JSONSerialization.jsonObject(with: try encoder.encode(full)) as? [String: Any])
        #expect(Set(object.keys).union(["command"]) == Set(JobsFileFields.job))
        #expect(Set((object["retry"] as? [String: Any])?.keys.map { $0 } ?? []) == Set(RetryPolicy.jsonFields))
        #expect(Set((object["schedule"] as? [String: Any])?.keys.map { $0 } ?? []) == ["kind", "everyMs", "start"])
    }

    @Test("placement, misfire and overlap take the flags' spellings as well as the stored ones, and store the same")
    func valueSpellings() throws {
        let flags = try Self.decode(
            #"[{"id": "x", "command": "true", "placement": "round-robin", "misfire": "fire-once-now", "overlap": "skip"}]"#)
        let stored = try Self.decode(
            #"[{"id": "x", "command": "true", "placement": "roundRobin", "misfire": "fireOnceNow", "overlap": "skip"}]"#)
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

    @Test("the example jobs (coord run --example) read back as they are")
    func exampleJobsRoundTrip() throws {
        let text = try JobsFile.encode(ExampleJobs.all)
        #expect(try JobsFile.decode(Array(text.utf8), source: "example.json") == ExampleJobs.all)
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
}
