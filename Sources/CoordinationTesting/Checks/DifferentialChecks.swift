import Coordination

extension ConformanceSuite {
    /// Random programs compared with the embedded store, step by step (see ``DifferentialProgram``).
    /// Fixed seeds, so a failure names a program that replays exactly; 124 once left an
    /// ephemeral-sequential znode behind on ZooKeeper.
    static let differentialChecks: [ConformanceCheck] = [1, 2, 3, 4, 5, 6, 7, 124].map { seed in
        ConformanceCheck(
            "differential-program-\(seed)", clause: 5,
            "A random program of 300 operations and transactions on two handles, one closed and opened again now and then (seed \(seed)), gives the same outcome at every step, and leaves the same records (walked and watched), as the embedded store."
        ) { ctx in
            try await DifferentialProgram(seed: UInt64(seed), steps: 300).run(ctx)
        }
    }
}
