import Foundation

/// The signals that coord's parent left ignored (`nohup` leaves SIGHUP so; a non-interactive
/// shell so starts background jobs with SIGINT and SIGQUIT), which coord leaves ignored, as
/// shells and `make` do: it catches none of them, and the commands it runs inherit them ignored.
enum InheritedSignals {
    /// Read once, on first use: the entry point reads it first thing, before coord installs any
    /// handler of its own.
    static let ignoredAtStart: Set<Int32> = Set((1..<32).filter { $0 != SIGKILL && $0 != SIGSTOP && isIgnored($0) })

    /// Whether coord's parent left `number` ignored.
    static func wereIgnored(_ number: Int32) -> Bool { ignoredAtStart.contains(number) }

    /// Whether signal `number` is ignored now.
    static func isIgnored(_ number: Int32) -> Bool {
        var current = sigaction()
        guard sigaction(number, nil, &current) == 0 else { return false }
        #if os(Linux) || os(Android)
        let handler = current.__sigaction_handler.sa_handler
        #else
        let handler = current.__sigaction_u.__sa_handler
        #endif
        return unsafeBitCast(handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }
}
