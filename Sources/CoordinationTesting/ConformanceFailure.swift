import Coordination

/// Why a check failed: what was expected, where in the suite, and on which check.
public struct ConformanceFailure: Error, Sendable, CustomStringConvertible {
    /// The failing check's name (empty only while the failure travels inside the check).
    public let check: String
    public let message: String
    public let file: String
    public let line: Int

    public init(check: String, message: String, file: String, line: Int) {
        self.check = check
        self.message = message
        self.file = file
        self.line = line
    }

    /// The check, what went wrong and where, then the contract clause the check belongs to and
    /// what it asserts, so that a failure reads without the suite's source at hand.
    public var description: String {
        let what = ConformanceSuite.check(named: check).map { "; clause \($0.clause): \($0.summary)" } ?? ""
        return "[\(check)] \(message) (\(file):\(line))\(what)"
    }

    func attributed(to name: String) -> ConformanceFailure {
        ConformanceFailure(check: name, message: message, file: file, line: line)
    }
}

/// Every failure of ``ConformanceSuite/runAll()``, in check order.
public struct ConformanceFailures: Error, Sendable, CustomStringConvertible {
    public let backend: String
    public let failures: [ConformanceFailure]

    public var description: String {
        "\(failures.count) conformance check(s) failed on \(backend):\n"
            + failures.map { "  - \($0)" }.joined(separator: "\n")
    }
}

// MARK: Expectations: small, framework-neutral helpers that fail a check by throwing.

func failure(_ message: String, file: String = #fileID, line: Int = #line) -> ConformanceFailure {
    ConformanceFailure(check: "", message: message, file: file, line: line)
}

func expect(
    _ condition: Bool, _ message: @autoclosure () -> String, file: String = #fileID, line: Int = #line
) throws(ConformanceFailure) {
    if !condition { throw failure(message(), file: file, line: line) }
}

func expectEqual<T: Equatable>(
    _ actual: T, _ expected: T, _ what: @autoclosure () -> String, file: String = #fileID, line: Int = #line
) throws(ConformanceFailure) {
    if actual != expected {
        throw failure("\(what()): expected \(expected), got \(actual)", file: file, line: line)
    }
}

func require<T>(
    _ value: T?, _ what: @autoclosure () -> String, file: String = #fileID, line: Int = #line
) throws(ConformanceFailure) -> T {
    guard let value else { throw failure("\(what()): got nil", file: file, line: line) }
    return value
}

/// Runs `body`, which must fail with a ``CoordinationError`` of `code`; returns that error for
/// further assertions.
@discardableResult
func expectThrows<T>(
    code: CoordinationError.Code, _ what: @autoclosure () -> String,
    file: String = #fileID, line: Int = #line,
    _ body: () async throws -> T
) async throws -> CoordinationError {
    let result: T
    do {
        result = try await body()
    } catch let error as CoordinationError {
        guard error.code == code else {
            throw failure("\(what()): expected \(code.rawValue), got \(error)", file: file, line: line)
        }
        return error
    } catch let error as ConformanceFailure {
        throw error
    } catch {
        throw failure("\(what()): expected \(code.rawValue), got non-coordination error \(error)", file: file, line: line)
    }
    throw failure("\(what()): expected \(code.rawValue), but it succeeded with \(result)", file: file, line: line)
}

/// Synchronous variant, for `Key` construction and other pure code.
@discardableResult
func expectThrowsNow<T>(
    code: CoordinationError.Code, _ what: @autoclosure () -> String,
    file: String = #fileID, line: Int = #line,
    _ body: () throws -> T
) throws -> CoordinationError {
    let result: T
    do {
        result = try body()
    } catch let error as CoordinationError {
        guard error.code == code else {
            throw failure("\(what()): expected \(code.rawValue), got \(error)", file: file, line: line)
        }
        return error
    } catch {
        throw failure("\(what()): expected \(code.rawValue), got \(error)", file: file, line: line)
    }
    throw failure("\(what()): expected \(code.rawValue), but it succeeded with \(result)", file: file, line: line)
}
