@testable import CoordinationCLI
import Testing

/// The order in which `coord bench` runs its clients' chunks: each client must follow every other
/// one equally often, since what ran just before a chunk weighs on its latencies.
@Suite struct BenchOrderTests {
    @Test("every client follows every other one equally often, and never itself", arguments: [2, 3])
    func predecessorsAreBalanced(clients: Int) {
        let rounds = 2 * clients * 5
        let sequence = (0..<rounds).flatMap { BenchRunner.order(round: $0, clients: clients) }
        var follows: [[Int]] = Array(repeating: Array(repeating: 0, count: clients), count: clients)
        for (before, after) in zip(sequence, sequence.dropFirst()) { follows[after][before] += 1 }
        for client in 0..<clients {
            #expect(follows[client][client] == 0, "client \(client) follows itself")
            let others = (0..<clients).filter { $0 != client }.map { follows[client][$0] }
            #expect(others.max()! - others.min()! <= 1, "client \(client)'s predecessors: \(follows[client])")
        }
        #expect((0..<rounds).allSatisfy { Set(BenchRunner.order(round: $0, clients: clients)) == Set(0..<clients) })
    }

    @Test func aLoneClientRunsAlone() {
        #expect(BenchRunner.order(round: 3, clients: 1) == [0])
    }
}
