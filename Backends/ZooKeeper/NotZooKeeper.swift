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

    /// Sent by the probe when ``probeRequest`` got no answer: a TLS 1.2 ClientHello (three common
    /// suites, the groups and signatures they need). A TLS server answers it with its own hello
    /// or an alert, a TLS record either way; ZooKeeper reads its first four bytes as a request
    /// length far past its limit and hangs up.
    static let tlsProbeRequest: [UInt8] = {
        func length16(_ bytes: [UInt8]) -> [UInt8] { [UInt8(bytes.count >> 8), UInt8(truncatingIfNeeded: bytes.count)] }
        let extensions: [UInt8] =
            [0x00, 0x0A, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1D, 0x00, 0x17]  // supported groups: x25519, P-256
            + [0x00, 0x0B, 0x00, 0x02, 0x01, 0x00]  // EC point formats: uncompressed
            + [0x00, 0x0D, 0x00, 0x08, 0x00, 0x06, 0x04, 0x01, 0x04, 0x03, 0x08, 0x04]  // signature algorithms
        let suites: [UInt8] = [0xC0, 0x2F, 0xC0, 0x2B, 0x00, 0x9C]
        let hello: [UInt8] =
            [0x03, 0x03] + (0..<32).map { UInt8($0) } + [0x00] + length16(suites) + suites + [0x01, 0x00]
            + length16(extensions) + extensions
        let handshake: [UInt8] = [0x01, 0x00] + length16(hello) + hello
        return [0x16, 0x03, 0x01] + length16(handshake) + handshake
    }()

    /// Why the reply to ``tlsProbeRequest`` cannot have come from ZooKeeper; `nil` when it can.
    static func tlsReplyProblem(_ reply: [UInt8]) -> String? {
        // A TLS record: a handshake (22) or an alert (21), protocol version 3.x.
        guard reply.count >= 2, reply[0] == 22 || reply[0] == 21, reply[1] == 3 else { return nil }
        return "a TLS server answered, as etcd serving TLS on its client port does; coord's ZooKeeper client speaks no TLS"
    }

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
