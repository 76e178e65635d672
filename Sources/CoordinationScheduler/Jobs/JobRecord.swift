import Foundation

/// A job as stored at `R/jobs/<b>/<id>`: its definition and the scheduler's bookkeeping for it,
/// as one JSON object `{"spec": …, "state": …}`.
///
/// One record rather than two keys: on ZooKeeper every worker re-read a separate state key as it
/// was created and listed its bucket again as it was created and deleted, three requests per
/// job per worker (a quarter of the claims bench's requests), and on etcd it was two more watch
/// events per worker. The definition never changes after submission, so the record's version
/// counts the state's changes: every change of the state is a compare-and-set on that version,
/// and a claim checks it, so a pause cannot be overtaken. The version starts over when the job
/// is added again under its id: each change also checks the job's incarnation key (``IncarnationFence``).
public struct JobRecord: Sendable, Hashable, Codable {
    public var spec: JobSpec
    public var state: JobState

    public init(spec: JobSpec, state: JobState) {
        self.spec = spec
        self.state = state
    }

    /// The record's JSON value, as ``SchedulerJSON`` writes it but with `/` unescaped: base64
    /// payloads are full of them, and escaped each would take two bytes, so that the payload that
    /// fits a record would depend on its bytes rather than only on its length.
    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return Array(try encoder.encode(self))
    }
}
