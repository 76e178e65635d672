import CoordinationScheduler
import Testing

@Suite struct PlacementTests {
    static func counts(_ plan: [Int: String]) -> [String: Int] {
        plan.values.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }

    @Test func aFourthWorkerTakesExactlyTwoOfEightItems() {
        let items = Array(0..<8)
        let three = ["a": 1, "b": 1, "c": 1]
        let first = BalancedAssignment.plan(items: items, current: [:], workers: three)
        #expect(Self.counts(first).values.sorted() == [2, 3, 3])
        let four = BalancedAssignment.plan(items: items, current: first, workers: three.merging(["d": 1]) { $1 })
        #expect(Self.counts(four) == ["a": 2, "b": 2, "c": 2, "d": 2])
        #expect(BalancedAssignment.moves(from: first, to: four) == 2, "only the excess moves")
        // Every move went to the newcomer: release before acquiring never shuffles the others.
        #expect(items.filter { first[$0] != four[$0] }.allSatisfy { four[$0] == "d" })
    }

    @Test func aLeavingWorkersItemsAloneMove() {
        let items = Array(0..<9)
        let plan = BalancedAssignment.plan(items: items, current: [:], workers: ["a": 1, "b": 1, "c": 1])
        let without = BalancedAssignment.plan(items: items, current: plan, workers: ["a": 1, "c": 1])
        #expect(BalancedAssignment.moves(from: plan, to: without) == 3)
        #expect(items.filter { plan[$0] != "b" }.allSatisfy { plan[$0] == without[$0] })
        #expect(Self.counts(without).values.sorted() == [4, 5])
    }

    @Test func weightsSetTheShares() {
        let plan = BalancedAssignment.plan(items: Array(0..<12), current: [:], workers: ["big": 3, "small": 1])
        #expect(Self.counts(plan) == ["big": 9, "small": 3])
    }

    @Test func aReturningWorkerGetsItsConsistentHashShareBack() {
        let keys = (0..<200).map { "job/\($0)" }
        let full = HashRing(nodes: ["a", "b", "c"])
        let owners = keys.map { full.owner(of: $0)! }
        let withoutB = HashRing(nodes: ["a", "c"])
        for (key, owner) in zip(keys, owners) where owner != "b" {
            #expect(withoutB.owner(of: key) == owner, "keys of the others stay put")
        }
        #expect(keys.map { HashRing(nodes: ["c", "b", "a"]).owner(of: $0)! } == owners, "b gets exactly its share back")
        let share = owners.filter { $0 == "b" }.count
        #expect(share > 30 && share < 110, "virtual nodes spread the keys (b has \(share) of 200)")
    }

    @Test func plannedStrategiesChooseAsDocumented() {
        let candidates = [
            PlacementPlanner.Candidate(id: "a", capacity: 4, weight: 1, load: 3),
            PlacementPlanner.Candidate(id: "b", capacity: 4, weight: 3, load: 1),
            PlacementPlanner.Candidate(id: "c", capacity: 1, weight: 1, load: 0),
        ]
        let rotation = (0..<6).map {
            PlacementPlanner.choose(.roundRobin, runKey: "k", candidates: candidates, cursor: $0, random: 0)!
        }
        #expect(rotation == ["a", "b", "c", "a", "b", "c"])
        #expect(PlacementPlanner.choose(.leastLoaded, runKey: "k", candidates: candidates, cursor: 0, random: 0) == "c")
        let loaded = candidates.map { PlacementPlanner.Candidate(id: $0.id, capacity: $0.capacity, weight: $0.weight, load: $0.id == "c" ? 1 : $0.load) }
        #expect(PlacementPlanner.choose(.leastLoaded, runKey: "k", candidates: loaded, cursor: 0, random: 0) == "b")
        // Weighted: a has [0, 0.2), b [0.2, 0.8), c [0.8, 1).
        #expect(PlacementPlanner.choose(.weighted, runKey: "k", candidates: candidates, cursor: 0, random: 0.1) == "a")
        #expect(PlacementPlanner.choose(.weighted, runKey: "k", candidates: candidates, cursor: 0, random: 0.5) == "b")
        #expect(PlacementPlanner.choose(.weighted, runKey: "k", candidates: candidates, cursor: 0, random: 0.9) == "c")
        #expect(PlacementPlanner.choose(.random, runKey: "k", candidates: candidates, cursor: 0, random: 0.99) == "c")
        #expect(
            PlacementPlanner.choose(.consistentHash, runKey: "job/1", candidates: candidates, cursor: 0, random: 0)
                == HashRing(nodes: ["a", "b", "c"]).owner(of: "job/1"))
        #expect(PlacementPlanner.choose(.roundRobin, runKey: "k", candidates: candidates, cursor: 0, random: 0, sticky: "c") == "c")
        #expect(PlacementPlanner.choose(.roundRobin, runKey: "k", candidates: [], cursor: 0, random: 0) == nil)
    }
}
