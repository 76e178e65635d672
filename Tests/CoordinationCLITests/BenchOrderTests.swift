@testable import CoordinationCLI
import Testing

/// The order in which `coord bench` runs its clients' chunks: each client must follow every other
/// one equally often, since what ran just before a chunk weighs on its latencies.
@Suite struct BenchOrderTests {
    @Test("every client follows every other one equally often, and never itself", arguments: [2, 3, 4])
    func predecessorsAreBalanced(clients: Int) {
        let rounds = (1..<clients).reduce(1, *) * 5
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

    /// Four clients (coord, the C loop, coord on its completion executor, the peer) used to run
    /// 0 1 2 3 | 0 2 3 1 | 0 3 1 2: the peer followed the completion-executor loop 27 times in 40
    /// rounds and the C loop never.
    @Test("with four clients, no cut of the sequence leaves a client's predecessors off by more than two")
    func everyCutIsNearlyBalanced() {
        for rounds in 1...60 {
            let sequence = (0..<rounds).flatMap { BenchRunner.order(round: $0, clients: 4) }
            var follows: [[Int]] = Array(repeating: Array(repeating: 0, count: 4), count: 4)
            for (before, after) in zip(sequence, sequence.dropFirst()) { follows[after][before] += 1 }
            for client in 0..<4 {
                let others = (0..<4).filter { $0 != client }.map { follows[client][$0] }
                #expect(others.max()! - others.min()! <= 2, "\(rounds) rounds: client \(client)'s predecessors: \(follows[client])")
            }
        }
    }

    @Test func aLoneClientRunsAlone() {
        #expect(BenchRunner.order(round: 3, clients: 1) == [0])
    }
}
