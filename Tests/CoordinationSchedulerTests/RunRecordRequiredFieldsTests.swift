import Foundation
import Testing

@testable import CoordinationScheduler

/// A run record leaves its defaults out (RunRecordCoding.swift), but not what no default can
/// stand for: a record without its status is not one the scheduler wrote, and read as pending
/// it would be claimed and run, perhaps while it runs elsewhere.
@Suite struct RunRecordRequiredFieldsTests {
    @Test func aRecordWithoutItsJobRunFireTimeOrStatusDoesNotDecode() throws {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        let whole = #"{"job":"j","run":"r","scheduledAt":3000,"status":"running","worker":"w"}"#
        #expect(try decoder.decode(RunRecord.self, from: Data(whole.utf8)).status == .running)
        for field in ["job", "run", "scheduledAt", "status"] {
            var object = try #require(try JSONSerialization.jsonObject(with: Data(whole.utf8)) as? [String: Any])
            object[field] = nil
            let text = try JSONSerialization.data(withJSONObject: object)
            #expect(throws: DecodingError.self, "without \(field)") { try decoder.decode(RunRecord.self, from: text) }
        }
    }
}
