import CZooKeeper
import Coordination

extension ZooKeeperStore {
    /// How many requests a tree's listing or deletion sends at once: a level can be a whole large folder.
    static let listingBatch = 512

    /// Lists the tree from `top` a level at a time, every znode of a batch at once, through the
    /// C client's asynchronous calls. `visit` gets each listed node and its listing's reply, and
    /// returns the nodes to list on the next level (its children, or none).
    func listLevels<Node>(
        from top: Node, path: (Node) -> String, _ visit: (Node, Reply) throws -> [Node]
    ) async throws {
        var level = [top]
        while !level.isEmpty {
            var next: [Node] = []
            for start in stride(from: 0, to: level.count, by: Self.listingBatch) {
                let batch = level[start..<min(start + Self.listingBatch, level.count)]
                let replies = await listNodes(batch.map(path))
                for (node, reply) in zip(batch, replies) { next += try visit(node, reply) }
            }
            try Task.checkCancellation()
            level = next
        }
    }

    /// Lists the children of each znode in `paths` (which need not be keys), all requests sent at once.
    func listNodes(_ paths: [String]) async -> [Reply] {
        await connection.callAll(paths.count) { index, zh, context in
            paths[index].withCString { zoo_aget_children(zh, $0, 0, completeStrings, context) }
        }
    }
}
