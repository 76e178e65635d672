public import Coordination

extension EtcdStore {
    /// See ``ReplyThreadExecutor``: under its preference a task goes on in the store's request
    /// loop thread after each reply, where curl completes it.
    public static var completionExecutor: ReplyThreadExecutor { .shared }
}
