import Coordination

/// Which job buckets a worker that does not lead watches: its own share, the buckets of wide
/// jobs, and the buckets of the runs it is running.
///
/// Every worker used to watch every job, so each change cost every worker its re-reading (on
/// ZooKeeper) or its watch event (on etcd): with four workers, one worker with 16 slots claimed
/// about twice as fast as four with 4 each on ZooKeeper. With shares, a job of an ordinary
/// kind (compete, one item) is watched by the leader (which needs every job for its duties) and
/// by the owner of its bucket.
///
/// Nothing here decides who may run what: a claim is still a key only one worker can create. A
/// share only decides who sees a run. So that every run is seen by a worker able to run it:
/// - Workers with the same handlers and labels form a class, and each class splits the buckets
///   among its members (rendezvous hashing: a change of members moves only the buckets of the
///   member that came or went). A job any class can run is seen by that class's owner.
/// - Wide jobs (planned placements, broadcast, several items) are for particular workers or for
///   spreading over all of them: every worker watches their buckets, named by the leader in
///   ``SchedulerLayout/wideBuckets``. Until that key exists (a leader of an earlier coord, or
///   none elected yet), every worker watches everything.
/// - A worker keeps watching the bucket of each run it is running, whoever owns it now: a cancel
///   request reaches it there.
/// - A draining worker (``WorkerInfo/draining``) owns nothing: it claims no more, so the rest of
///   its class takes its buckets as soon as it says so, not once it has left.
/// Views that disagree for a moment (a member seen joining by some and not yet by others) only
/// make two workers watch a bucket, or leave one to the leader alone until they agree.
enum BucketShare {
    /// Whether every worker watches the job's bucket rather than its owner alone.
    static func isWide(_ spec: JobSpec) -> Bool {
        spec.placement.isPlanned || spec.shards > 1
    }

    /// The buckets `me` owns among `members` (the live workers' infos, `me`'s own included or not).
    static func owned(by me: String, info: WorkerInfo, members: [String: WorkerInfo]) -> Set<String> {
        var peers = [me]
        for (id, other) in members where id != me && !other.draining && sameClass(other, info) { peers.append(id) }
        var owned = Set<String>()
        for bucket in SchedulerLayout.bucketNames {
            var best = me
            var bestScore = HashRing.hash(me + "/" + bucket)
            for peer in peers.dropFirst() {
                let score = HashRing.hash(peer + "/" + bucket)
                if score > bestScore || (score == bestScore && peer > best) {
                    best = peer
                    bestScore = score
                }
            }
            if best == me { owned.insert(bucket) }
        }
        return owned
    }

    /// Workers that can run exactly the same jobs.
    static func sameClass(_ a: WorkerInfo, _ b: WorkerInfo) -> Bool {
        Set(a.handlers) == Set(b.handlers) && a.labels == b.labels
    }
}
