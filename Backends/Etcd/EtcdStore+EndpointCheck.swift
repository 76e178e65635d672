import Coordination

extension EtcdStore: EndpointChecking {
    /// Asks each endpoint for its status (``ClusterIdentity/probePath``, which every member
    /// serves on its own, to any user): its member, version and role, and its cluster, checked
    /// against the handle's. A member of the handle's cluster is then one a write may go to.
    public func checkEndpoints() async -> [EndpointReport] {
        await withTaskGroup(of: (Int, EndpointReport).self) { group in
            for index in gateway.endpoints.indices {
                group.addTask { (index, await self.checkEndpoint(index)) }
            }
            var reports: [(Int, EndpointReport)] = []
            for await report in group { reports.append(report) }
            return reports.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    private func checkEndpoint(_ index: Int) async -> EndpointReport {
        let endpoint = gateway.endpoints[index]
        func report(_ finding: EndpointReport.Finding) -> EndpointReport { EndpointReport(endpoint: endpoint, finding: finding) }
        // With the handle's token, fresh from opening: etcd 3.4 serves the status to anyone, a
        // later etcd may ask who wants it.
        let request = GatewayRequest(
            baseURL: endpoint, path: ClusterIdentity.probePath, body: Array("{}".utf8), token: gateway.currentToken,
            timeout: gateway.requestTimeout)
        guard case .done(let outcome) = await loop.perform(request) else { return report(.unreachable("the store handle was closed")) }
        let status: Int
        let body: [UInt8]
        switch await gateway.identifyingSilenceOffPool(outcome, of: request) {
        case .failure(let failure):
            return report(.unreachable(CoordinationError.gateway(.transport(failure, endpoint: endpoint), kind: .read).message))
        case .success(let reply):
            (status, body) = reply
        }
        guard status == 200, let json = JSONValue.parse(body), case .object = json else {
            let failure = Gateway.failure(status: status, reply: body, endpoint: endpoint)
            return report(.unreachable(CoordinationError.gateway(failure, kind: .read).message))
        }
        if let foreign = gateway.cluster.check(header: json["header"], from: gateway.endpoints, index: index, kind: .read) {
            return report(.foreign(foreign))
        }
        return report(.serves(Self.describe(status: json)))
    }

    /// A status reply in a few words: `member 8e9e05c52164694d of cluster cdf818194e3a8c32, etcd 3.4.23, leader`.
    static func describe(status json: JSONValue) -> String {
        let member = json["header"]?["member_id"]?.stringValue ?? ""
        let leader = json["leader"]?.stringValue ?? "0"
        let role =
            json["isLearner"]?.boolValue == true
            ? "learner (serves no client until promoted)" : leader == "0" ? "no leader" : leader == member ? "leader" : "follower"
        var words = [
            "member \(ClusterIdentity.shown(member)) of cluster \(ClusterIdentity.shown(json["header"]?["cluster_id"]?.stringValue ?? "?"))",
            "etcd \(json["version"]?.stringValue ?? "?")", role,
        ]
        let alarms = json["errors"]?.arrayValue.compactMap(\.stringValue) ?? []
        if !alarms.isEmpty { words.append("alarms: \(alarms.joined(separator: "; "))") }
        return words.joined(separator: ", ")
    }
}
