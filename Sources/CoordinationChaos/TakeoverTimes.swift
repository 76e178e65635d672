/// How long the runs a worker held waited for another worker after it was lost (killed, stopped,
/// cut off): from the fault to the first accepted `begin` of a newer token of the same job or
/// shard, at the sink. Cron fire times are left out (a later fire is not a takeover).
public enum TakeoverTimes {
    public static func measure(faults: [FaultRecord], writes: [SinkWrite], cronJobs: Set<String>) -> [FaultKind: [Double]] {
        var times: [FaultKind: [Double]] = [:]
        for fault in faults where fault.kind.strikesWorker {
            // The victim's tokens still open (begun, neither ended nor begun again by a newer
            // token) when the fault struck: one taken over before it (whose end was then
            // refused) waits for no takeover this fault caused.
            var open: [ResourceID: Int64] = [:]
            for write in writes where write.at <= fault.at && write.accepted && !cronJobs.contains(write.resource.job) {
                if write.report.kind == .begin && write.report.worker == fault.target {
                    open[write.resource] = write.token
                } else if let token = open[write.resource], write.token > token || (write.report.kind == .end && write.token == token) {
                    open[write.resource] = nil
                }
            }
            for (resource, token) in open {
                let next = writes.first { $0.at > fault.at && $0.accepted && $0.report.kind == .begin && $0.resource == resource && $0.token > token }
                if let next { times[fault.kind, default: []].append(next.at - fault.at) }
            }
        }
        return times
    }
}
