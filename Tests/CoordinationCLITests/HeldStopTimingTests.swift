import Testing
@testable import CoordinationCLI

/// The README's figures for a held command whose lock, leadership or membership may be lost:
/// SIGTERM a fifth of the session TTL before the session may expire, SIGKILL half that later, at
/// most 5 s after the SIGTERM. The process tests check that the command is stopped, not when.
@Suite struct HeldStopTimingTests {
    @Test("SIGTERM a fifth of the TTL before the session may end, SIGKILL half that later, at most 5 s", arguments: [
        (Duration.seconds(2), Duration.milliseconds(400), Duration.milliseconds(200)),
        (.seconds(10), .seconds(2), .seconds(1)),
        (.seconds(50), .seconds(10), .seconds(5)),
        // Half the margin would be 6 s: the SIGKILL still comes 5 s after the SIGTERM.
        (.seconds(60), .seconds(12), .seconds(5)),
    ])
    func stopTiming(ttl: Duration, margin: Duration, grace: Duration) {
        #expect(HeldCommand.stopMargin(sessionTTL: ttl) == margin)
        #expect(HeldCommand.stopGrace(sessionTTL: ttl) == grace)
    }
}
