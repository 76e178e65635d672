public import Coordination

/// The executor that goes on where ZooKeeper's replies arrive: the C client's completion thread.
/// It is the reply thread executor etcd's store uses too; the name stays for code written against it.
@available(*, deprecated, renamed: "ReplyThreadExecutor")
public typealias ZooKeeperCompletionExecutor = ReplyThreadExecutor

extension ZooKeeperStore {
    /// See ``ReplyThreadExecutor``: under its preference a task goes on in the C client's
    /// completion thread after each reply.
    public static var completionExecutor: ReplyThreadExecutor { .shared }
}
