/// A key's value and metadata as read from a store (contract clause 4).
public struct Record: Sendable, Hashable {
    /// The key, relative to the store's namespace.
    public var key: Key
    /// The value's bytes, exactly as written.
    public var value: [UInt8]
    /// 0 when the key is created, +1 for every set: the same numbers on every backend.
    public var version: Int64
    /// The store-global revision at which this key was created (ZooKeeper czxid, etcd
    /// create_revision). Totally ordered within one store: usable as a fencing token.
    /// Never compare it with a revision from another store.
    public var createRevision: Int64
    /// The store-global revision of the key's last change (ZooKeeper mzxid, etcd mod_revision).
    public var modRevision: Int64
    /// `true` when the key belongs to a session and vanishes when that session ends.
    public var isEphemeral: Bool
    /// For an ephemeral key, the session it belongs to, spelled exactly as that backend spells
    /// ``SessionEvent/sessionID`` (ZooKeeper's ephemeral owner, etcd's lease, the memory store's
    /// session); `nil` for a persistent key. The same on every path that yields the record, and
    /// as seen from any handle: so a handle can tell its own ephemeral key from another's with
    /// the same value (contract clause 4).
    public var ownerSession: String?

    public init(
        key: Key, value: [UInt8], version: Int64, createRevision: Int64, modRevision: Int64, isEphemeral: Bool,
        ownerSession: String? = nil
    ) {
        self.key = key
        self.value = value
        self.version = version
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.isEphemeral = isEphemeral
        self.ownerSession = ownerSession
    }

    /// The value decoded as UTF-8 (invalid bytes replaced), for text values.
    public var string: String { String(decoding: value, as: UTF8.self) }
}

/// How `create` makes a key (contract clause 5).
public enum CreateMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// Lives until deleted.
    case persistent
    /// Belongs to the handle's session; vanishes when the session ends. Cannot have children.
    case ephemeral
    /// Persistent, with a 10-digit, strictly increasing suffix appended to the key's last segment.
    case sequential
    /// Both ephemeral and sequential; the building block of locks and elections.
    case ephemeralSequential

    public var isEphemeral: Bool { self == .ephemeral || self == .ephemeralSequential }
    public var isSequential: Bool { self == .sequential || self == .ephemeralSequential }

    public init(ephemeral: Bool, sequential: Bool) {
        switch (ephemeral, sequential) {
        case (false, false): self = .persistent
        case (true, false): self = .ephemeral
        case (false, true): self = .sequential
        case (true, true): self = .ephemeralSequential
        }
    }
}
