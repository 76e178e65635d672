/// The connect string in the form libzookeeper's `zookeeper_init` parses.
///
/// Coord writes an IPv6 host in brackets (`[::1]:2181`), as URLs do. The C client splits each
/// entry at its last `:` and resolves the rest as it stands, brackets included: a lone bracketed
/// host made it refuse the whole string, and one in a list was silently left out. It wants the
/// bare address (`::1:2181`), which the last-colon split still reads right.
enum ClientConnectString {
    /// `hosts` (comma-separated `host:port` entries) with the brackets around IPv6 hosts removed.
    static func from(_ hosts: String) -> String {
        hosts.split(separator: ",", omittingEmptySubsequences: false).map { entry in
            guard entry.hasPrefix("["), let close = entry.firstIndex(of: "]") else { return String(entry) }
            return String(entry[entry.index(after: entry.startIndex)..<close]) + entry[entry.index(after: close)...]
        }.joined(separator: ",")
    }
}
