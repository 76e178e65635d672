import Coordination

extension ZooKeeperStore: EndpointChecking {
    /// Connects to each host and asks it `srvr`, as opening does when no session comes: a host
    /// that answers as ZooKeeper serves, any other is named with what it did. A ZooKeeper reply
    /// names no ensemble, so a host of another ensemble cannot be told apart here (see the README).
    public func checkEndpoints() async -> [EndpointReport] {
        let hosts = connection.hostAddresses
        return await withTaskGroup(of: (Int, EndpointReport).self) { group in
            for (index, host) in hosts.enumerated() {
                group.addTask {
                    let finding: EndpointReport.Finding =
                        switch await HostProbe.probe(host, identify: true) {
                        case .accepted: .serves("a ZooKeeper server answered")
                        case .refused(let why): .unreachable(why)
                        case .notZooKeeper(let what): .unreachable("did not answer as ZooKeeper does (\(what))")
                        case .notServing(let what): .unreachable(what)
                        case .undecided: .unreachable("no answer within 1s")
                        }
                    return (index, EndpointReport(endpoint: host, finding: finding))
                }
            }
            var reports: [(Int, EndpointReport)] = []
            for await report in group { reports.append(report) }
            return reports.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}
