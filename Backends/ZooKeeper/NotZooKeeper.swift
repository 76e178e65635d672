import Coordination

/// Telling a server that is not ZooKeeper (an HTTP server, etcd's port) from one that is.
///
/// The C client takes whatever bytes come back as its session handshake: an HTTP status line
/// `HTTP/1.1 404 Not Found` becomes a "session" whose negotiated timeout is the bytes ` 404`
/// (540291124 ms, over six days) and whose id is ` Not Fou`. A server that does not answer the
/// handshake at all (etcd, which waits for an HTTP request line) leaves it waiting. Both are told
/// apart here so that opening can say what answered instead of reporting lost contact or silence.
enum NotZooKeeper {
    /// Sent by the probe: ZooKeeper reads its first four bytes as the four-letter word `srvr` and
    /// answers in text (or says the word is not whitelisted); an HTTP server reads a request with
    /// an unknown method and answers with a status line.
    static let probeRequest = Array("srvr / HTTP/1.1\r\nHost: zookeeper\r\nConnection: close\r\n\r\n".utf8)

    /// Why a negotiated session timeout cannot have come from ZooKeeper; `nil` when it can.
    ///
    /// A server gives at most the timeout asked for, or more only up to its minSessionTimeout:
    /// nothing sane is above the longest TTL the library asks for (a day). Any HTTP status line
    /// lands at over six days (its bytes are a space and three digits), so this catches them all.
    static func handshakeProblem(timeoutMilliseconds: Int32) -> String? {
        let longest = CoordinationLimits.sessionTTLRange.upperBound
        guard timeoutMilliseconds <= 0 || Duration.milliseconds(Int64(timeoutMilliseconds)) > longest else { return nil }
        if let status = httpStatus(inTimeoutBytes: timeoutMilliseconds) {
            return "an HTTP server answered, status \(status)"
        }
        return "its handshake reply made no sense: a session timeout of \(timeoutMilliseconds) ms"
    }

    /// The status when the timeout's four bytes are ` NNN`, the status of `HTTP/1.x NNN …`.
    private static func httpStatus(inTimeoutBytes value: Int32) -> Int? {
        let bits = UInt32(bitPattern: value)
        let bytes = [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: bits >> UInt32($0)) }
        guard bytes[0] == UInt8(ascii: " "), bytes[1...].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return nil
        }
        return Int(String(decoding: bytes[1...], as: UTF8.self))
    }

    /// Why the reply to ``probeRequest`` cannot have come from ZooKeeper; `nil` when it can (or
    /// nothing came: a silent server is not judged).
    static func probeReplyProblem(_ reply: [UInt8]) -> String? {
        guard reply.starts(with: Array("HTTP/".utf8)) else { return nil }
        let statusLine = String(decoding: reply.prefix { $0 != 13 && $0 != 10 }.prefix(80), as: UTF8.self)
        let fields = statusLine.split(separator: " ")
        if fields.count >= 2, let status = Int(fields[1]) { return "an HTTP server answered, status \(status)" }
        return "an HTTP server answered"
    }

    /// The error for `servers` (`host:port` and why) that did not answer as ZooKeeper does, and
    /// `refused` hosts that did not answer at all (when no host gave a session).
    static func error(_ servers: [(address: String, why: String)], refused: [String] = []) -> CoordinationError {
        let named = servers.map { "\($0.address) did not answer as ZooKeeper does (\($0.why))" }
        let others = refused.isEmpty ? "" : "; cannot reach \(refused.joined(separator: "; "))"
        return CoordinationError(
            .unavailable,
            named.joined(separator: "; ") + others
                + ": is it a ZooKeeper server, and is the URL's host:port right? ZooKeeper's client port is usually 2181")
    }
}
