import Coordination

extension ConformanceSuite {
    static let valueChecks: [ConformanceCheck] = [
        ConformanceCheck("value-empty-round-trips", clause: 2, "An empty value is stored and read back as empty, through create and set.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/empty")
            try expectEqual(try await store.create(key, value: [], mode: .persistent).value, [], "created value")
            try expectEqual(try await store.get(key)?.value, [], "read value after create")
            _ = try await store.set(key, value: bytes("x"), ifVersion: nil)
            _ = try await store.set(key, value: [], ifVersion: nil)
            try expectEqual(try await store.get(key)?.value, [], "read value after setting it empty again")
        },
        ConformanceCheck("value-binary-round-trips", clause: 2, "A value holding every byte 0...255 (and invalid UTF-8) is read back byte for byte.") { ctx in
            let store = try await ctx.open()
            let value = (0...255).map { UInt8($0) } + [0xFF, 0xFE, 0x00, 0xC3]
            let key = try Key("/binary")
            _ = try await store.create(key, value: value, mode: .persistent)
            try expectEqual(try await store.get(key)?.value, value, "binary value after create")
            let reversed = Array(value.reversed())
            _ = try await store.set(key, value: reversed, ifVersion: nil)
            try expectEqual(try await store.get(key)?.value, reversed, "binary value after set")
        },
        ConformanceCheck("value-at-limit-accepted", clause: 2, "A value of exactly maxValueBytes is accepted by create and set and read back identical.") { ctx in
            let store = try await ctx.open()
            let value = (0..<CoordinationLimits.maxValueBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
            let key = try Key("/largest")
            _ = try await store.create(key, value: value, mode: .persistent)
            try expect(try await store.get(key)?.value == value, "the largest value must read back identical")
            let changed = Array(value.reversed())
            _ = try await store.set(key, value: changed, ifVersion: nil)
            try expect(try await store.get(key)?.value == changed, "the largest value must read back identical after set")
        },
        ConformanceCheck("value-over-limit-create-rejected", clause: 2, "create with maxValueBytes+1 bytes fails with valueTooLarge naming the size and limit, and creates nothing.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/big/value")
            let error = try await expectThrows(code: .valueTooLarge, "create of an oversized value") {
                try await store.create(key, value: oversized(), mode: .persistent)
            }
            try expect(error.message.contains("\(CoordinationLimits.maxValueBytes)"), "the message must name the limit: \(error.message)")
            try expect(!(try await store.exists(key)), "nothing may be created")
            try expect(!(try await store.exists(try Key("/big"))), "not even the ancestors")
        },
        ConformanceCheck("value-over-limit-set-rejected", clause: 2, "set with maxValueBytes+1 bytes fails with valueTooLarge and leaves the old value and version.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/big")
            _ = try await store.create(key, value: bytes("small"), mode: .persistent)
            try await expectThrows(code: .valueTooLarge, "set of an oversized value") {
                try await store.set(key, value: oversized(), ifVersion: nil)
            }
            let record = try require(try await store.get(key), "the key after a refused set")
            try expectEqual(record.value, bytes("small"), "value after a refused set")
            try expectEqual(record.version, 0, "version after a refused set")
        },
        ConformanceCheck("value-over-limit-put-rejected", clause: 2, "put with maxValueBytes+1 bytes fails with valueTooLarge, whether or not the key exists.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/big")
            try await expectThrows(code: .valueTooLarge, "put of an oversized value to a missing key") {
                try await store.put(key, value: oversized())
            }
            try expect(!(try await store.exists(key)), "nothing may be created")
            _ = try await store.create(key, value: bytes("small"), mode: .persistent)
            try await expectThrows(code: .valueTooLarge, "put of an oversized value to an existing key") {
                try await store.put(key, value: oversized())
            }
            try expectEqual(try await store.get(key)?.value, bytes("small"), "value after a refused put")
        },
        ConformanceCheck("value-over-limit-in-transaction-names-operation", clause: 2, "An oversized value in a transaction's second operation fails the whole transaction with valueTooLarge, failedOperation 1, and nothing applied.") { ctx in
            let store = try await ctx.open()
            let first = try Key("/first")
            let error = try await expectThrows(code: .valueTooLarge, "transaction with an oversized value") {
                try await store.transaction([
                    .create(first, value: [], mode: .persistent),
                    .create(try Key("/second"), value: oversized(), mode: .persistent),
                ])
            }
            try expectEqual(error.failedOperation, 1, "failedOperation")
            try expect(error.message.contains("operation 2"), "the message must name operation 2: \(error.message)")
            try expect(!(try await store.exists(first)), "the first operation must not be applied")
        },
        ConformanceCheck("value-over-limit-rejected-before-io", clause: 2, "On a closed handle an oversized create, set or put still fails with valueTooLarge (checked before any I/O), not unavailable.") { ctx in
            let store = try await ctx.open()
            await store.close()
            let key = try Key("/big")
            try await expectThrows(code: .valueTooLarge, "create on a closed handle") { try await store.create(key, value: oversized(), mode: .persistent) }
            try await expectThrows(code: .valueTooLarge, "ephemeral create on a closed handle") { try await store.create(key, value: oversized(), mode: .ephemeralSequential) }
            try await expectThrows(code: .valueTooLarge, "set on a closed handle") { try await store.set(key, value: oversized(), ifVersion: 3) }
            try await expectThrows(code: .valueTooLarge, "put on a closed handle") { try await store.put(key, value: oversized()) }
            try await expectThrows(code: .valueTooLarge, "transaction on a closed handle") {
                try await store.transaction([.set(key, value: oversized(), ifVersion: nil)])
            }
        },
        ConformanceCheck("transaction-too-large-rejected-before-io", clause: 2, "On a closed handle a transaction over the operation or byte limit still fails with transactionTooLarge (checked before any I/O).") { ctx in
            let store = try await ctx.open()
            await store.close()
            let key = try Key("/t")
            let tooMany = Array(repeating: Operation.check(key, version: nil), count: CoordinationLimits.maxTransactionOperations + 1)
            try await expectThrows(code: .transactionTooLarge, "too many operations on a closed handle") { try await store.transaction(tooMany) }
            let half = Array(repeating: UInt8(7), count: CoordinationLimits.maxValueBytes / 2 + 1)
            let tooHeavy: [Operation] = [.set(try Key("/t1"), value: half, ifVersion: nil), .set(try Key("/t2"), value: half, ifVersion: nil)]
            try await expectThrows(code: .transactionTooLarge, "too many bytes on a closed handle") { try await store.transaction(tooHeavy) }
        },
    ]

    static func oversized() -> [UInt8] {
        Array(repeating: 0x61, count: CoordinationLimits.maxValueBytes + 1)
    }
}
