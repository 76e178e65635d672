import Coordination
import Testing
@testable import CoordinationCLI
@testable import CoordinationMigration

/// The lines `coord migrate` ends a copy with: the summary's numbers, and the held-keys failure
/// naming the keys and what to do.
@Suite("coord migrate: the summary's numbers and the held-keys failure")
struct MigrateOutcomeLinesTests {
    @Test("the summary counts the source's persistent keys only: ephemeral ones are skipped, and counted apart")
    func persistentKeysOnly() {
        var counts = MigrationCounts()
        counts.sourceKeys = 3
        counts.copied = 3
        counts.ephemeral = 2
        let summary = MigrateCommand.summary(counts, elapsed: .milliseconds(10), rate: 300, dryRun: false)
        #expect(summary.hasPrefix("copied 3 keys, skipped 0 identical and 2 ephemeral (3 persistent keys on the source) in 10ms: 300 keys/s"), "\(summary)")
    }

    @Test("the held-keys failure lists the keys and says to run again once those sessions have ended, in a copy and in a dry run")
    func heldNamesKeysAndFix() throws {
        var counts = MigrationCounts()
        counts.hold(try Key("/app/held"))
        counts.hold(try Key("/app/held/job-0000000007"))
        for dryRun in [false, true] {
            let message = MigrateCommand.heldProblem(counts, dryRun: dryRun)
            #expect(message.hasPrefix("2 keys \(dryRun ? "would not be" : "were not") copied: "), "\(message)")
            #expect(message.contains("(/app/held, /app/held/job-0000000007)"), "\(message)")
            #expect(message.hasSuffix("; run again once those sessions have ended"), "\(message)")
        }
    }
}
