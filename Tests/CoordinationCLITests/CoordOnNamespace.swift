import CoordinationTestSupport
import Foundation
import Testing

/// A coord on a fresh namespace of `backend`, and the jobs' states and runs as it lists them.
struct CoordOnNamespace {
    let handles: TestHandles
    let coord: CoordProcess
    let url: String

    init(_ backend: TestBackend) throws {
        handles = try TestHandles(backend)
        coord = try CoordProcess()
        url = try #require(backend.url(handles.namespace, ttl: handles.ttl))
    }

    func run(_ arguments: [String]) async throws -> CoordProcess.Result {
        try await coord.run(["--store", url] + arguments)
    }

    /// Each job's state (active, paused), by id.
    func states() async throws -> [String: String] {
        var states: [String: String] = [:]
        for line in try await run(["jobs", "--json"]).stdoutText.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            if let id = object?["id"] as? String { states[id] = object?["state"] as? String }
        }
        return states
    }

    /// The statuses of job `id`'s runs, active and past.
    func runStatuses(_ id: String) async throws -> [String] {
        try await run(["runs", id, "--json"]).stdoutText.split(separator: "\n").compactMap {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["status"] as? String
        }
    }

    func addHourly(_ ids: String...) async throws {
        for id in ids { #expect(try await run(["job", "add", id, "--command", "true", "--every", "1h"]).status == 0) }
    }
}
