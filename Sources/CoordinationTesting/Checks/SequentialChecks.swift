import Coordination

extension ConformanceSuite {
    static let sequentialChecks: [ConformanceCheck] = [
        ConformanceCheck("sequential-suffix-format", clause: 6, "A sequential create appends a 10-digit, zero-padded number to the last segment and returns the full key, which exists.") { ctx in
            let store = try await ctx.open()
            let record = try await store.create(try Key("/q/item-"), value: bytes("v"), mode: .sequential)
            try expectEqual(record.key.parent, try Key("/q"), "parent of the generated key")
            _ = try sequenceNumber(of: record.key.name, prefix: "item-")
            try expectEqual(try await store.get(record.key), record, "get of the generated key")
            try expect(!record.isEphemeral, "a sequential key is persistent")
        },
        ConformanceCheck("sequential-prefix-leaves-room-for-its-number", clause: 6, "A sequential create whose key with its 10-digit number would pass the key length limit is refused with invalidKey naming the key, alone and in a transaction, and nothing is created; a prefix that leaves exactly room for the number works.") { ctx in
            let store = try await ctx.open()
            let folder = try Key("/q")
            _ = try await store.create(folder, value: [], mode: .persistent)
            let room = CoordinationLimits.maxKeyBytes - CoordinationLimits.sequenceDigits - "/q/".utf8.count
            let tooLong = try folder.child(String(repeating: "p", count: room + 1))
            for mode in [CreateMode.sequential, .ephemeralSequential] {
                let error = try await expectThrows(code: .invalidKey, "\(mode) create of a prefix with no room for its number") {
                    try await store.create(tooLong, value: [], mode: mode)
                }
                try expect(error.message.contains(tooLong.path), "the message must name the key: \(error.message)")
                let inTransaction = try await expectThrows(code: .invalidKey, "transactional \(mode) create of a prefix with no room") {
                    try await store.transaction([.create(try Key("/q/ok"), value: [], mode: .persistent), .create(tooLong, value: [], mode: mode)])
                }
                try expectEqual(inTransaction.failedOperation, 1, "failedOperation")
            }
            try expectEqual(try await store.children(of: folder), [], "children of /q after the refusals")
            let fits = try await store.create(try folder.child(String(repeating: "p", count: room)), value: [], mode: .sequential)
            try expectEqual(fits.key.path.utf8.count, CoordinationLimits.maxKeyBytes, "length of the longest sequential key")
            try expectEqual(try await store.get(fits.key)?.key, fits.key, "the longest sequential key reads back")
        },
        ConformanceCheck("sequential-strictly-increasing", clause: 6, "Successive sequential creates under one parent get strictly increasing numbers, whatever the prefix.") { ctx in
            let store = try await ctx.open()
            var last: Int64 = -1
            for prefix in ["a-", "b-", "a-", "z", "a-"] {
                let record = try await store.create(try Key("/q/" + prefix), value: [], mode: .sequential)
                let number = try sequenceNumber(of: record.key.name, prefix: prefix)
                try expect(number > last, "sequence number \(number) of \(record.key) must exceed \(last)")
                last = number
            }
        },
        ConformanceCheck("sequential-concurrent-creators-unique-ordered", clause: 6, "4 handles creating 25 sequential keys each in parallel get 100 distinct keys whose numbers are in createRevision order.") { ctx in
            var stores: [any CoordinationStore] = []
            for _ in 0..<4 { stores.append(try await ctx.open()) }
            let parent = try Key("/race")
            _ = try await stores[0].create(parent, value: [], mode: .persistent)
            let prefixKey = try parent.child("n-")
            let records = try await withThrowingTaskGroup(of: [Record].self) { group in
                for store in stores {
                    group.addTask {
                        var mine: [Record] = []
                        for _ in 0..<25 { mine.append(try await store.create(prefixKey, value: [], mode: .sequential)) }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            try expectEqual(Set(records.map(\.key)).count, 100, "distinct generated keys")
            let byRevision = records.sorted { $0.createRevision < $1.createRevision }
            let numbers = try byRevision.map { try sequenceNumber(of: $0.key.name, prefix: "n-") }
            try expectEqual(numbers, numbers.sorted(), "sequence numbers in createRevision order")
            try expectEqual(Set(numbers).count, 100, "distinct sequence numbers")
            try expectEqual(try await stores[1].children(of: parent).count, 100, "children of the parent")
        },
        ConformanceCheck("sequential-per-parent", clause: 6, "Each parent has its own increasing sequence: interleaved creates under two parents increase under each.") { ctx in
            let store = try await ctx.open()
            var last: [String: Int64] = [:]
            for parent in ["/one", "/two", "/one", "/two", "/two", "/one"] {
                let record = try await store.create(try Key(parent + "/s-"), value: [], mode: .sequential)
                let number = try sequenceNumber(of: record.key.name, prefix: "s-")
                try expect(number > last[parent, default: -1], "sequence under \(parent) must increase: \(number) after \(last[parent, default: -1])")
                last[parent] = number
            }
        },
        ConformanceCheck("sequential-ephemeral", clause: 6, "An ephemeral-sequential create gets the suffix, is ephemeral, and vanishes with its session.") { ctx in
            let store = try await ctx.open()
            let observer = try await ctx.open()
            let record = try await store.create(try Key("/q/lock-"), value: [], mode: .ephemeralSequential)
            _ = try sequenceNumber(of: record.key.name, prefix: "lock-")
            try expect(record.isEphemeral, "the key must be ephemeral")
            let watch = ctx.watch(observer, record.key)
            _ = try await watch.snapshot()
            try expect(watch.state[record.key] != nil, "the watch snapshot must hold the key")
            await store.close()
            try await watch.until("the ephemeral-sequential key to vanish after close") { $0[record.key] == nil }
        },
        ConformanceCheck("sequential-never-reused-after-delete", clause: 6, "After the newest sequential key is deleted, the next one still gets a larger number.") { ctx in
            let store = try await ctx.open()
            let first = try await store.create(try Key("/q/r-"), value: [], mode: .sequential)
            try await store.delete(first.key, ifVersion: nil, recursive: false)
            let second = try await store.create(try Key("/q/r-"), value: [], mode: .sequential)
            try expect(
                try sequenceNumber(of: second.key.name, prefix: "r-") > sequenceNumber(of: first.key.name, prefix: "r-"),
                "\(second.key) must sort after the deleted \(first.key)")
        },
        ConformanceCheck("sequential-parent-created-anew-starts-over", clause: 6, "A parent deleted (plainly or in a transaction) and created again numbers its sequential children as a parent never used does.") { ctx in
            let store = try await ctx.open()
            let fresh = try await store.create(try Key("/fresh/s-"), value: [], mode: .sequential)
            let firstNumber = try sequenceNumber(of: fresh.key.name, prefix: "s-")
            for viaTransaction in [false, true] {
                let parent = try Key("/again")
                var children: [Key] = []
                for _ in 0..<3 { children.append(try await store.create(try parent.child("s-"), value: [], mode: .sequential).key) }
                if viaTransaction {
                    _ = try await store.transaction(children.map { .delete($0, ifVersion: nil) } + [.delete(parent, ifVersion: nil)])
                } else {
                    try await store.delete(parent, ifVersion: nil, recursive: true)
                }
                let anew = try await store.create(try parent.child("s-"), value: [], mode: .sequential)
                try expectEqual(
                    try sequenceNumber(of: anew.key.name, prefix: "s-"), firstNumber,
                    "first number under \(parent) created anew after a \(viaTransaction ? "transaction's" : "recursive") delete")
                try await store.delete(parent, ifVersion: nil, recursive: true)
            }
        },
        ConformanceCheck("sequential-parent-created-anew-by-another-handle", clause: 6, "When another handle (one in a nested namespace too) deletes a parent and creates it again, the first handle's next sequential create under it, plain or in a transaction, numbers as the second create under a parent never used does, after the other handle's first.") { ctx in
            let first = try await ctx.open()
            let fresh = try Key("/fresh")
            let expected = [
                try sequenceNumber(of: try await first.create(try fresh.child("s-"), value: [], mode: .sequential).key.name, prefix: "s-"),
                try sequenceNumber(of: try await first.create(try fresh.child("s-"), value: [], mode: .sequential).key.name, prefix: "s-"),
            ]
            let outer = try await ctx.open()
            let inner = try await ctx.open(try Key("/ns"))
            for (round, other) in [(0, outer), (1, outer), (2, inner), (3, inner)] {
                let viaTransaction = round % 2 == 1
                let store = first
                // The other handle names the parent from its own namespace: /ns/p here is /p in /ns.
                let parentThere = try Key("/again\(round)")
                let inStore = try require(other.namespace.relative(to: ctx.namespace), "the other handle's namespace").appending(parentThere)
                // The first handle learns the counter the way it then creates (etcd keeps a guess per handle).
                if viaTransaction {
                    _ = try await store.create(inStore, value: [], mode: .persistent)
                    _ = try await store.transaction(try (0..<3).map { _ in .create(try inStore.child("s-"), value: [], mode: .sequential) })
                } else {
                    for _ in 0..<3 { _ = try await store.create(try inStore.child("s-"), value: [], mode: .sequential) }
                }
                try await other.delete(parentThere, ifVersion: nil, recursive: true)
                let theirs = try await other.create(try parentThere.child("s-"), value: [], mode: .sequential)
                try expectEqual(try sequenceNumber(of: theirs.key.name, prefix: "s-"), expected[0], "round \(round): the other handle's first number")
                let mine: Record
                if viaTransaction {
                    let results = try await store.transaction([.create(try inStore.child("s-"), value: [], mode: .sequential)])
                    mine = try require(results.first?.createdRecord, "round \(round): the transaction's created record")
                } else {
                    mine = try await store.create(try inStore.child("s-"), value: [], mode: .sequential)
                }
                try expectEqual(try sequenceNumber(of: mine.key.name, prefix: "s-"), expected[1], "round \(round): the next number after the parent was created anew elsewhere")
                try expectEqual(try await store.children(of: inStore), [theirs.key.name, mine.key.name], "round \(round): children of \(inStore)")
            }
        },
        ConformanceCheck("sequential-ephemeral-under-parent-created-anew", clause: 6, "An ephemeral-sequential create under a parent deleted and created again, whose old child of the same name went in a transaction, creates exactly the one key it returns.") { ctx in
            let store = try await ctx.open()
            let parent = try Key("/locks")
            let old = try await store.create(try parent.child("lock-"), value: [], mode: .ephemeralSequential)
            _ = try await store.transaction([.delete(old.key, ifVersion: nil), .delete(parent, ifVersion: nil)])
            let new = try await store.create(try parent.child("lock-"), value: [], mode: .ephemeralSequential)
            try expectEqual(try await store.children(of: parent), [new.key.name], "children of \(parent) created anew")
        },
        ConformanceCheck("sequential-children-listing", clause: 6, "Generated keys appear in children(of:) by their full names, and byte order is creation order.") { ctx in
            let store = try await ctx.open()
            var created: [String] = []
            for _ in 0..<5 { created.append(try await store.create(try Key("/list/e-"), value: [], mode: .sequential).key.name) }
            try expectEqual(try await store.children(of: try Key("/list")), created, "children in creation order")
        },
        ConformanceCheck("sequential-skips-names-taken-by-plain-keys", clause: 6, "A plain key holding the very name a sequential create would get next (the first number, or the second) does not make the create fail: alone or in a transaction, in every sequential mode, it gets a new, larger name and leaves the plain key as it was.") { ctx in
            let store = try await ctx.open()
            // Which number comes next differs per backend (ZooKeeper counts every child), so each
            // parent takes a plain key at a different one of the first numbers.
            for (index, plain) in ["s-0000000000", "s-0000000001", "s-0000000002"].enumerated() {
                for mode in CreateMode.allCases where mode.isSequential {
                    for viaTransaction in [false, true] {
                        let parent = try Key("/taken\(index)-\(mode.rawValue)-\(viaTransaction)")
                        let taken = try await store.create(try parent.child(plain), value: bytes("plain"), mode: .persistent)
                        let prefix = try parent.child("s-")
                        var names: [String] = []
                        for _ in 0..<3 {
                            let record: Record
                            do {
                                if viaTransaction {
                                    let results = try await store.transaction([.create(prefix, value: [], mode: mode)])
                                    record = try require(results.first?.createdRecord, "the created record (\(results))")
                                } else {
                                    record = try await store.create(prefix, value: [], mode: mode)
                                }
                            } catch let error as CoordinationError {
                                throw failure("\(mode.rawValue) create of \(prefix)\(viaTransaction ? " in a transaction" : "") beside the plain key \(taken.key): \(error)")
                            }
                            try expect(record.key != taken.key, "the sequential create returned the plain key's name \(record.key)")
                            names.append(record.key.name)
                        }
                        try expectEqual(names, names.sorted(), "names under \(parent) in creation order")
                        try expectEqual(Set(names).count, names.count, "distinct names under \(parent)")
                        try expectEqual(try await store.get(taken.key), taken, "the plain key \(taken.key)")
                    }
                }
            }
        },
        ConformanceCheck("sequential-not-confused-by-plain-children", clause: 6, "Plain keys under the same parent, even ones that look sequential, do not break the sequence: the next number still exceeds the previous one.") { ctx in
            let store = try await ctx.open()
            let first = try await store.create(try Key("/mix/s-"), value: [], mode: .sequential)
            _ = try await store.create(try Key("/mix/s-9999999999x"), value: [], mode: .persistent)
            _ = try await store.create(try Key("/mix/plain"), value: [], mode: .persistent)
            let second = try await store.create(try Key("/mix/s-"), value: [], mode: .sequential)
            try expect(
                try sequenceNumber(of: second.key.name, prefix: "s-") > sequenceNumber(of: first.key.name, prefix: "s-"),
                "\(second.key) must sort after \(first.key)")
        },
    ]
}
