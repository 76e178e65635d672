/// What one host of a store's URL answered when asked on its own.
public struct EndpointReport: Sendable, Hashable {
    public enum Finding: Sendable, Hashable {
        /// It serves the handle's cluster: what it is (its member, version and role).
        case serves(String)
        /// It did not answer as a member of a cluster: why.
        case unreachable(String)
        /// It serves another cluster than the handle's: the error that names both and the fix.
        case foreign(CoordinationError)
    }

    /// The host as the handle reaches it (with its scheme).
    public var endpoint: String
    public var finding: Finding

    public init(endpoint: String, finding: Finding) {
        self.endpoint = endpoint
        self.finding = finding
    }
}

/// A store that can ask each host of its URL on its own what it is. A host that is down, or a
/// member of another cluster (pasted from the wrong list), is otherwise found only when the
/// handle moves to it: when the host it used fails, the worst moment.
public protocol EndpointChecking: CoordinationStore {
    /// Asks every host of the handle's URL, all at once, each within the handle's request
    /// time-out; the reports come in the URL's order. It changes nothing on any of them.
    func checkEndpoints() async -> [EndpointReport]
}
