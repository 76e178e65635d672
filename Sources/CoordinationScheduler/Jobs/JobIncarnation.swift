/// The tag of one incarnation of a job: drawn when the job is added, kept in its state
/// (``JobState/incarnation``) and written into the ids of its runs (``RunID``).
///
/// Run ids are deterministic, so a job removed and added again under the same id would have runs
/// of the same ids as before (a one-shot at the same time, a trigger of the same number), whose
/// records start over at the same versions. A worker or leader whose view is still behind the
/// removal could then claim or place such a run as the removed job's: its checks are of versions
/// (ZooKeeper's transactions can compare nothing else). With the tag the ids differ, and a write
/// through the stale view finds no run (`noNode`).
enum JobIncarnation {
    /// Lowercase Crockford base-32 (no `i`, `l`, `o`, `u`): no `/` or `-`, so the tag never
    /// changes how a run id splits into a key or into its parts.
    static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz")

    /// Characters in a tag: 30 random bits, so that two incarnations of one job sharing a tag
    /// (about one in a billion) is no concern.
    static let length = 6

    /// A new, random tag.
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
    }

    /// A tag as long as every tag, for sizing keys and records before one is drawn.
    static let longest = String(repeating: "z", count: length)
}
