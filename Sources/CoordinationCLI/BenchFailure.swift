/// A measure of `coord bench` that failed although the store answered: the peer could not run or
/// failed (a missing python3 or module, the peer's own error), or the claims' jobs did not all
/// run in time, or one ran twice. Not a ``CoordinationError``: its codes would say the store was
/// out of reach (9) or could not do this (8), and neither is so; coord exits 1, "any other
/// failure", with these words.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
