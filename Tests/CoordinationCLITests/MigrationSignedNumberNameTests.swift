import Testing
@testable import CoordinationMigration

/// A sequential suffix is ten digits: a name ending in a sign and nine digits (`offset-123456789`,
/// `tz+123456789`) is no sequence number, or it would move (or report left behind) its parent's
/// counter for a number no store handed out, a negative one among them.
@Suite("StoreMigration: names ending in a sign and nine digits")
struct MigrationSignedNumberNameTests {
    @Test("a sign and nine digits are no sequence number; ten digits after a sign are")
    func signedNamesAreNoNumbers() {
        #expect(StoreMigration.sequenceNumber("offset-123456789") == nil)
        #expect(StoreMigration.sequenceNumber("tz+123456789") == nil)
        #expect(StoreMigration.sequenceNumber("-123456789") == nil)
        #expect(StoreMigration.sequenceNumber("job-0123456789") == 123_456_789)
    }
}
