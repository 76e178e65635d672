/// A chaos run that could not do what it set out to (a cluster that did not start, a worker that
/// could not be spawned): not a violated invariant, but a failed run all the same.
public struct ChaosFailure: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
