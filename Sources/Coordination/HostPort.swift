/// One server address, `host:port`, checked before any connection is tried. Unchecked, a
/// mistyped address surfaced late and misleadingly: a missing port silently meant port 80 to etcd,
/// a non-numeric one passed for a lost write, an out-of-range one for a refused connection.
///
/// Accepted forms: `host:port`, `host` (the backend's default port), `[v6]:port` and `[v6]`.
/// A host is a name or an IPv4 address (letters, digits, `-`, `.`, `_`); an IPv6 address goes in
/// brackets, since its colons would otherwise be taken for the port's.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    /// The host name or address, without IPv6 brackets.
    public var host: String
    /// 1 to 65535.
    public var port: Int

    /// Parses `text`, using `defaultPort` when it names none.
    /// - Throws: `invalidConfiguration` naming `text`, what is wrong with it and the form expected.
    public init(_ text: String, defaultPort: Int) throws(CoordinationError) {
        func refuse(_ problem: String) -> CoordinationError {
            CoordinationError(
                .invalidConfiguration,
                "endpoint '\(text)' \(problem); write each endpoint as host:port, such as 127.0.0.1:\(defaultPort)"
                    + " (or [::1]:\(defaultPort) for IPv6; a missing port means \(defaultPort))")
        }
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw refuse("opens an IPv6 address with '[' but never closes it") }
            host = String(text[text.index(after: text.startIndex)..<close])
            guard host.contains(":"), host.unicodeScalars.allSatisfy(Self.isIPv6Character) else {
                throw refuse("has '\(host)' in brackets, which is not an IPv6 address")
            }
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw refuse("has '\(rest)' after the IPv6 address, where ':port' belongs") }
                portText = rest.dropFirst()
            }
        } else {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw refuse("has more than one ':'; an IPv6 address goes in brackets") }
            host = String(parts[0])
            portText = parts.count == 2 ? parts[1] : nil
            guard !host.isEmpty else { throw refuse("has no host") }
            guard host.unicodeScalars.allSatisfy(Self.isHostCharacter) else {
                throw refuse("has a host, '\(host)', with a character no host name or IPv4 address has")
            }
        }
        guard let portText else {
            port = defaultPort
            return
        }
        guard !portText.isEmpty else { throw refuse("has no port after its ':'") }
        guard portText.utf8.allSatisfy({ (48...57).contains($0) }), portText.utf8.count <= 5,
            let number = Int(portText), (1...65535).contains(number)
        else { throw refuse("has port '\(portText)', not a number from 1 to 65535") }
        port = number
    }

    /// `host:port`, the host in brackets when it is an IPv6 address: what the clients connect to.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Parses every entry of `list` (see ``init(_:defaultPort:)``) and gives back their
    /// `host:port` forms; an empty list stays empty.
    public static func normalized(_ list: [String], defaultPort: Int) throws(CoordinationError) -> [String] {
        var result: [String] = []
        for entry in list { result.append(try HostPort(entry, defaultPort: defaultPort).description) }
        return result
    }

    private static func isHostCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", ".", "_": true
        default: false
        }
    }

    /// Hex digits, colons, dots (an embedded IPv4 address) and a `%zone` suffix (`%eth0`).
    private static func isIPv6Character(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ":", ".", "%", "-", "_": true
        default: false
        }
    }
}
