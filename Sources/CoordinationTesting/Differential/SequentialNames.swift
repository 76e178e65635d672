import Coordination

/// One side's sequential keys: the actual key each canonical one stands for, and back.
struct SequentialNames {
    private(set) var actual: [Key: Key] = [:]
    private var canonical: [Key: Key] = [:]
    /// Canonical keys an operation may name: not ones whose actual name was given again since
    /// (a parent deleted and created again numbers from the start).
    private(set) var pickable: [Key] = []

    mutating func name(_ actualKey: Key, _ canonicalKey: Key) {
        if let old = canonical[actualKey] { pickable.removeAll { $0 == old } }
        canonical[actualKey] = canonicalKey
        actual[canonicalKey] = actualKey
        pickable.append(canonicalKey)
    }

    /// The key an operation sends: a canonical sequential key (or one beneath it) as this side named it.
    func send(_ key: Key) -> Key { Self.rename(key, using: actual) }

    /// The canonical form of a key this side returned.
    func canonical(_ key: Key) -> Key { Self.rename(key, using: canonical) }

    /// `key` with its deepest ancestor-or-self found in `names` replaced by what it maps to.
    private static func rename(_ key: Key, using names: [Key: Key]) -> Key {
        var prefix: Key? = key
        while let candidate = prefix, !candidate.isRoot {
            if let renamed = names[candidate] {
                return (try? Key(renamed.path + key.path.dropFirst(candidate.path.count))) ?? key
            }
            prefix = candidate.parent
        }
        return key
    }
}

/// How one handle sees the program's keys: through its side's sequential names, relative to its
/// namespace. Outcomes are brought back to the check's namespace, so handles compare alike.
struct HandleView {
    let names: SequentialNames
    /// The handle's namespace, relative to the check's.
    let base: Key

    /// The key the handle sends for a program key (always beneath ``base``).
    func send(_ key: Key) -> Key { names.send(key).relative(to: base) ?? key }

    /// A key the handle returned, in the check's namespace.
    func absolute(_ key: Key) -> Key { base.appending(key) }

    func absolute(_ record: Record) -> Record {
        Record(
            key: absolute(record.key), value: record.value, version: record.version, createRevision: record.createRevision,
            modRevision: record.modRevision, isEphemeral: record.isEphemeral, ownerSession: record.ownerSession)
    }
}
