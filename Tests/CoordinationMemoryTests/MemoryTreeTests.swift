import Coordination
import PropertyBased
import Testing

@testable import CoordinationMemory

/// The memory tree keeps each transaction's child creations and deletions apart from the
/// committed children sets and applies them in place at commit. Random transactions (creations,
/// sequential ones included, sets, checks, deletes, some bound to fail) are played on the tree and
/// on a plain model of which keys exist: every transaction must succeed exactly when the model
/// says, fail at the step the model names without changing anything, and leave every node's
/// children equal to the keys whose parent it is.
@Suite struct MemoryTreeTests {
    /// One step of a transaction: what to do, and to which of the test's keys (or its first child).
    enum Move: Int, CaseIterable {
        case check, create, createSequential, set, delete, deleteFirstChild
    }

    /// Which keys exist, with each one's next sequential suffix.
    struct Model {
        var nextSequence: [Key: Int64] = [.root: 0]

        func children(of key: Key) -> [Key] {
            nextSequence.keys.filter { $0.parent == key }.sorted()
        }

        /// Plays the step; false when it fails.
        mutating func play(_ step: MemoryTree.Step) -> Bool {
            switch step {
            case .check(let key, _), .set(let key, _, _):
                return nextSequence[key] != nil
            case .create(let requested, _, let mode, _):
                guard let parent = requested.parent, let next = nextSequence[parent] else { return false }
                var key = requested
                if mode.isSequential {
                    key = parent.appending(storedName: requested.name + Key.sequenceSuffix(next))!
                    nextSequence[parent] = next + 1
                }
                guard nextSequence[key] == nil else { return false }
                nextSequence[key] = 0
                return true
            case .delete(let key, _):
                guard nextSequence[key] != nil, children(of: key).isEmpty else { return false }
                nextSequence[key] = nil
                return true
            }
        }
    }

    /// Two keys make a folder and its child deleted and created again often; six make wider trees.
    @Test(arguments: [["/a", "/a/b"], ["/a", "/a/b", "/a/c", "/a/b/d", "/e", "/e/f"]])
    func childrenStayExactThroughRandomTransactions(paths: [String]) async {
        let keys = paths.map { try! Key($0) }
        let transactions = Gen.int(in: 0...(Move.allCases.count * keys.count - 1)).array(of: 1...6).array(of: 1...40)
        await propertyCheck(count: 400, input: transactions) { transactions in
            var tree = MemoryTree()
            var model = Model()
            for codes in transactions {
                let steps = codes.map { step(for: $0, keys: keys, in: model) }
                var planned = model
                let failing = steps.firstIndex { !planned.play($0) }
                let before = Self.describe(tree)
                do throws(CoordinationError) {
                    _ = try tree.apply(steps, namespace: .root)
                    #expect(failing == nil, "\(steps) succeeded; the model fails it at step \(failing ?? -1)")
                    model = planned
                } catch {
                    #expect(error.failedOperation == failing, "\(steps) failed at \(String(describing: error.failedOperation)) (\(error.code)); the model says \(String(describing: failing))")
                    #expect(Self.describe(tree) == before, "a failed transaction changed nothing")
                }
                #expect(Set(tree.nodes.keys) == Set(model.nextSequence.keys), "the tree holds exactly the model's keys")
                for (key, node) in tree.nodes {
                    #expect(node.children == Set(model.children(of: key)), "the children of \(key)")
                    #expect(node.nextSequence == model.nextSequence[key], "the next sequence of \(key)")
                }
            }
        }
    }

    /// A folder deleted and created again in one transaction starts with no children: what its
    /// old children's deletions recorded must not count against the new one's.
    @Test func aFolderCreatedAgainInOneTransactionStartsEmpty() throws {
        let (folder, child) = (try Key("/a"), try Key("/a/b"))
        var tree = MemoryTree()
        _ = try tree.apply([.create(folder, value: [], mode: .persistent, owner: 0), .create(child, value: [], mode: .persistent, owner: 0)], namespace: .root)
        _ = try tree.apply(
            [
                .delete(child, ifVersion: nil), .delete(folder, ifVersion: nil),
                .create(folder, value: [], mode: .persistent, owner: 0), .create(child, value: [], mode: .persistent, owner: 0),
            ], namespace: .root)
        #expect(tree.nodes[folder]?.children == [child])
        #expect(throws: CoordinationError.self, "a folder with a child is not empty") {
            _ = try tree.apply([.delete(folder, ifVersion: nil)], namespace: .root)
        }
    }

    private func step(for code: Int, keys: [Key], in model: Model) -> MemoryTree.Step {
        let key = keys[code % keys.count]
        switch Move.allCases[code / keys.count] {
        case .check: return .check(key, version: nil)
        case .create: return .create(key, value: [1], mode: .persistent, owner: 0)
        case .createSequential: return .create(key, value: [2], mode: .sequential, owner: 0)
        case .set: return .set(key, value: [3], ifVersion: nil)
        case .delete: return .delete(key, ifVersion: nil)
        // Sequential keys are reached only through their parent's listing.
        case .deleteFirstChild: return .delete(model.children(of: key).first ?? key, ifVersion: nil)
        }
    }

    /// Everything a transaction may change, comparable.
    private static func describe(_ tree: MemoryTree) -> [String] {
        tree.nodes.map { key, node in
            "\(key) v\(node.version) \(node.value) seq\(node.nextSequence) [\(node.children.sorted().map(\.path).joined(separator: " "))]"
        }.sorted() + ["revision \(tree.revision)"]
    }
}
