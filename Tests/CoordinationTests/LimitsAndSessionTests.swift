import Coordination
import Testing

@Suite struct LimitsTests {
    @Test func valueLimitNamesSizeAndLimit() throws {
        let key = try Key("/big")
        try CoordinationLimits.validate(value: [UInt8](repeating: 0, count: CoordinationLimits.maxValueBytes), for: key)
        do {
            try CoordinationLimits.validate(value: [UInt8](repeating: 0, count: 2_000_000), for: key)
            Issue.record("oversized value accepted")
        } catch {
            #expect(error.code == .valueTooLarge)
            #expect(error.message == "value for /big is 2000000 bytes; the limit is 1000000 bytes")
        }
    }

    @Test func transactionLimits() throws {
        let key = try Key("/k")
        let tooMany = Array(repeating: Operation.check(key, version: nil), count: CoordinationLimits.maxTransactionOperations + 1)
        #expect { try CoordinationLimits.validate(transaction: tooMany) } throws: { ($0 as? CoordinationError)?.code == .transactionTooLarge }

        let half = [UInt8](repeating: 1, count: 600_000)
        let tooHeavy: [Operation] = [.create(key, value: half, mode: .persistent), .set(key, value: half, ifVersion: nil)]
        #expect { try CoordinationLimits.validate(transaction: tooHeavy) } throws: { ($0 as? CoordinationError)?.code == .transactionTooLarge }

        let oversized: [Operation] = [.check(key, version: 0), .set(key, value: [UInt8](repeating: 0, count: 1_000_001), ifVersion: nil)]
        do {
            try CoordinationLimits.validate(transaction: oversized)
            Issue.record("oversized value in a transaction accepted")
        } catch {
            #expect(error.code == .valueTooLarge)
            #expect(error.failedOperation == 1)
            #expect(error.message.hasPrefix("transaction operation 2 of 2 failed"))
        }
    }

    @Test func errorDescriptionCarriesCodeAndDetail() {
        let error = CoordinationError(.noNode, "no such key /a", backendDetail: "ZNONODE (-101)")
        #expect(error.description == "noNode: no such key /a [ZNONODE (-101)]")
    }
}

@Suite struct SessionEventTests {
    @Test func safeWindowEndsOneTTLAfterLastContact() {
        let contact = ContinuousClock.now
        var event = SessionEvent(state: .connected, sessionID: "s", ttl: .seconds(4), lastContact: contact)
        #expect(event.safeUntil == nil && event.isSafe(at: contact.advanced(by: .seconds(100))))
        event.state = .suspended
        #expect(event.safeUntil == contact.advanced(by: .seconds(4)))
        #expect(event.isSafe(at: contact.advanced(by: .seconds(3))))
        #expect(!event.isSafe(at: contact.advanced(by: .seconds(4))))
        event.state = .expired
        #expect(!event.isSafe(at: contact))
        event.state = .reconnected
        #expect(event.isSafe(at: contact.advanced(by: .seconds(100))))
    }
}

@Suite struct BroadcastTests {
    @Test func subscribersGetTheCurrentValueThenChangesThenTheEnd() async {
        let broadcast = Broadcast(0)
        let early = broadcast.subscribe()
        broadcast.send(1)
        let late = broadcast.subscribe()
        broadcast.update { $0 += 1 }
        broadcast.finish(with: 9)
        broadcast.send(10)  // ignored after finish
        var seenEarly: [Int] = []
        for await value in early { seenEarly.append(value) }
        var seenLate: [Int] = []
        for await value in late { seenLate.append(value) }
        #expect(seenEarly == [0, 1, 2, 9])
        #expect(seenLate == [1, 2, 9])
        var afterwards: [Int] = []
        for await value in broadcast.subscribe() { afterwards.append(value) }
        #expect(afterwards == [9])
        #expect(broadcast.current == 9)
    }
}
