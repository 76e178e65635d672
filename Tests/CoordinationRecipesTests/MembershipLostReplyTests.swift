import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Synchronization
import Testing

/// A join whose create reply is lost tells its own member from another's by the session that
/// owns it (`Record.ownerSession`) as well as by its value.
@Suite(.serverLoadLimit) struct MembershipLostReplyTests {
    /// The join used to throw `connectionLoss` while its member stayed listed for the session's
    /// life, not known to be its own; now it finds the member and returns it.
    @Test(arguments: RecipeBackend.all)
    func aJoinWhoseReplyIsLostReturnsTheMember(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let observer = Membership(store: try await handles.open(), group: group)
        let flaky = FlakyStore(try await handles.open(), lostCreateReplies: 1)
        let member = try await Membership(store: flaky, group: group).join(id: "m", metadata: [1])
        #expect(flaky.failures == 1, "the create's reply was lost")
        #expect(try await observer.members() == [member], "the member returned is the one listed")
        try await Membership(store: flaky, group: group).leave(member)
        #expect(try await observer.members() == [], "leaving with the member returned removes it")
    }

    /// A join whose create did not land, another handle joining the id with the same metadata
    /// meanwhile: that member is another's, and the id is taken. By value alone stayJoined took
    /// it for its own, stayed "joined" as it and deleted it on leaving.
    @Test(arguments: RecipeBackend.all)
    func anotherHandlesMemberWithTheSameMetadataIsNotTakenForOurs(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let observer = Membership(store: try await handles.open(), group: group)
        let otherStore = try await handles.open()
        let lossy = UnsureCreateStore(try await handles.open(), landsFirstCreate: false, laterCreatesFail: false) {
            _ = try await Membership(store: otherStore, group: group).join(id: "m", metadata: [1])
        }
        await #expect {
            try await withDeadline("the id to be refused as taken", limit: .seconds(20)) {
                try await Membership(store: lossy, group: group).stayJoined(id: "m", metadata: [1])
            }
        } throws: { error in
            (error as? CoordinationError)?.code == .nodeExists && (error as? CoordinationError)?.message.contains("already taken") == true
        }
        let members = try await observer.members()
        #expect(members.map(\.id) == ["m"], "the other handle's member is still there")
        #expect(try await otherStore.get(try group.child("m"))?.ownerSession == otherStore.session.sessionID)
    }

    /// A stayJoined cancelled while its join's outcome is unknown removes the member its lost
    /// create made.
    @Test(arguments: RecipeBackend.all)
    func aStayJoinedCancelledWhileUnsureRemovesItsOwnMember(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let observer = Membership(store: try await handles.open(), group: group)
        let lossy = UnsureCreateStore(try await handles.open(), landsFirstCreate: true, laterCreatesFail: true) {}
        let staying = Task { try await Membership(store: lossy, group: group).stayJoined(id: "m", metadata: [1]) }
        try await withDeadline("the retried create") { await lossy.creates.reach(2) }
        #expect(try await observer.members().map(\.id) == ["m"], "the lost create made the member")
        staying.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: staying, "the cancelled stayJoined to end").get() }
        #expect(try await observer.members() == [], "its own member was removed")
    }

    /// The same, but the lost create did not land and another handle joined the id with the same
    /// metadata: that member is left alone (matched by value alone, it was deleted).
    @Test(arguments: RecipeBackend.all)
    func aStayJoinedCancelledWhileUnsureLeavesAnotherHandlesMember(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let observer = Membership(store: try await handles.open(), group: group)
        let otherStore = try await handles.open()
        let lossy = UnsureCreateStore(try await handles.open(), landsFirstCreate: false, laterCreatesFail: true) {
            _ = try await Membership(store: otherStore, group: group).join(id: "m", metadata: [1])
        }
        let staying = Task { try await Membership(store: lossy, group: group).stayJoined(id: "m", metadata: [1]) }
        try await withDeadline("the retried create") { await lossy.creates.reach(2) }
        let other = try await observer.members()
        #expect(other.map(\.id) == ["m"])
        staying.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: staying, "the cancelled stayJoined to end").get() }
        #expect(try await observer.members() == other, "the other handle's member is untouched")
    }

    /// A plain join cancelled while its outcome is unknown removes the member its lost create made
    /// (it used to throw at once and leave it listed for the session's life).
    @Test(arguments: RecipeBackend.all)
    func aJoinCancelledWhileUnsureRemovesItsOwnMember(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let observer = Membership(store: try await handles.open(), group: group)
        let lossy = UnsureCreateStore(try await handles.open(), landsFirstCreate: true, laterCreatesFail: true) {}
        let joining = Task { try await Membership(store: lossy, group: group).join(id: "m", metadata: [1]) }
        try await withDeadline("the retried create") { await lossy.creates.reach(2) }
        #expect(try await observer.members().map(\.id) == ["m"], "the lost create made the member")
        joining.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: joining, "the cancelled join to end").get() }
        #expect(try await observer.members() == [], "its own member was removed")
    }
}

/// A store whose first create loses its reply (`connectionLoss`) after landing or without
/// landing (`landsFirstCreate`), running `meanwhile` before it answers; later creates pass, or
/// fail with `unavailable` (nothing done) when `laterCreatesFail`, which keeps a join unsure.
/// ``creates`` counts the creates tried.
final class UnsureCreateStore: ForwardingStore {
    let base: any CoordinationStore
    private let landsFirstCreate: Bool
    private let laterCreatesFail: Bool
    private let meanwhile: @Sendable () async throws -> Void
    let creates = Broadcast(0)

    init(
        _ base: any CoordinationStore, landsFirstCreate: Bool, laterCreatesFail: Bool,
        meanwhile: @escaping @Sendable () async throws -> Void
    ) {
        self.base = base
        self.landsFirstCreate = landsFirstCreate
        self.laterCreatesFail = laterCreatesFail
        self.meanwhile = meanwhile
    }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        var count = 0
        creates.update { $0 += 1; count = $0 }
        if count == 1 {
            if landsFirstCreate { _ = try await base.create(key, value: value, mode: mode) }
            try await meanwhile()
            throw CoordinationError(.connectionLoss, "the reply was lost (simulated); the outcome is unknown", key: key)
        }
        if laterCreatesFail { throw CoordinationError(.unavailable, "the server cannot serve now (simulated)", key: key) }
        return try await base.create(key, value: value, mode: mode)
    }
}
