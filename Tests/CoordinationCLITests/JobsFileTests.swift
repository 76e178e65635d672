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
}
