import Coordination
import Testing

@testable import CoordinationCLI

/// What a jobs file that is the wrong shape as a whole is told: an id given to several jobs, and
/// the jobs wrapped in an object. Each message must say where the problem is and how to fix it.
@Suite("jobs file shape")
struct JobsFileShapeTests {
    @Test(
        "an id given to several jobs is refused naming every job that has it and the fix",
        arguments: [
            (
                #"[{"id": "a", "command": "true"}, {"id": "a", "command": "false"}]"#,
                "jobs.json: job a is defined twice, as jobs #1 and #2; an id names one job: give each its own id, or remove the extra ones"
            ),
            (
                #"[{"id": "a", "command": "true"}, {"id": "b", "command": "true"}, {"id": "a", "command": "true"}, {"id": "a", "command": "true"}]"#,
                "jobs.json: job a is defined 3 times, as jobs #1, #3 and #4; an id names one job: give each its own id, or remove the extra ones"
            ),
        ])
    func repeatedID(text: String, expected: String) {
        #expect(JobsFileTests.refusal(text) == expected)
    }

    /// Read as one job, `{"jobs": […]}` was told "job #1: unknown field "jobs"", which sends the
    /// reader looking for a field to rename rather than at the wrapper.
    @Test("jobs wrapped in an object's array are refused as a wrapper, naming its key and the fix")
    func wrappedArray() throws {
        let message = try #require(JobsFileTests.refusal(#"{"jobs": [{"id": "a", "command": "true"}]}"#))
        #expect(
            message
                == #"jobs.json holds an object with the jobs in its "jobs" array: a jobs file is that array itself; write [{"id": …}, …] with no {"jobs": …} around it"#
        )
        // One job object stays a job, and an unknown field in it stays an unknown field.
        #expect(try JobsFile.decode(Array(#"{"id": "a", "command": "true"}"#.utf8), source: "jobs.json").count == 1)
        #expect(JobsFileTests.refusal(#"{"id": "a", "command": "true", "tags": ["x"]}"#)?.contains(#"unknown field "tags""#) == true)
        // An empty wrapper is one too (it was "job #1: unknown field "jobs""); a job's own field
        // holding an empty array is a job missing the rest.
        #expect(JobsFileTests.refusal(#"{"jobs": []}"#)?.hasPrefix(#"jobs.json holds an object with the jobs in its "jobs" array"#) == true)
        #expect(JobsFileTests.refusal(#"{"shardParameters": []}"#)?.contains("holds an object with the jobs") == false)
    }
}
