public import Coordination

/// The executor that goes on where ZooKeeper's replies arrive: the C client's completion thread.
/// The reply thread executor serves every store; the name stays for code written against it.
public typealias ZooKeeperCompletionExecutor = ReplyThreadExecutor

extension ZooKeeperStore {
    /// See ``ReplyThreadExecutor``: under its preference a task goes on in the C client's
    /// completion thread after each reply.
    public static var completionExecutor: ReplyThreadExecutor { .shared }
}
