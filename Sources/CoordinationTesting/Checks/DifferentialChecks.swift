import Coordination

extension ConformanceSuite {
    /// Random programs compared with the embedded store, step by step (see ``DifferentialProgram``).
    /// Fixed seeds, so a failure names a program that replays exactly.
    static let differentialChecks: [ConformanceCheck] = Array(1...8).map { seed in
        ConformanceCheck(
            "differential-program-\(seed)", clause: 5,
            "A random program of 300 operations and transactions on three handles (one at a namespace), closed and opened again or expired now and then (seed \(seed)), gives the same outcome at every step, and leaves the same records (walked, and watched in every scope), as the embedded store."
        ) { ctx in
            try await DifferentialProgram(seed: UInt64(seed), steps: 300).run(ctx)
        }
    }
}
