import Coordination

/// The public conformance suite: every clause of the store contract as named checks, runnable by
/// any backend's test target (which depends on the `CoordinationTesting` product).
///
/// ```swift
/// import CoordinationTesting
/// import Testing
///
/// @Test(arguments: ConformanceSuite.checks)
/// func conformance(_ check: ConformanceCheck) async throws {
///     try await ConformanceSuite(harness: MyHarness()).run(check)
/// }
/// ```
/// `MyHarness` is the backend's ``ConformanceHarness``: it opens handles, expires a session and
/// cuts a handle off; README's "A backend of your own" shows the embedded store's in full.
/// A failure is a ``ConformanceFailure`` naming the check, its clause and what it asserts.
/// Each check runs in a fresh random namespace (`/conformance-<random>`), which is deleted
/// afterwards, so checks can run in parallel on a shared server. A check opens up to six handles
/// (sessions) at once, so checks pass through a ``CheckGate`` (by default one shared by every
/// suite in the process) that bounds how many run at the same moment; a server with a per-client
/// connection cap (ZooKeeper's `maxClientCnxns`, 60 by default) may need a narrower gate.
///
/// Every wait for an event is bounded by ``eventTimeout`` and fails naming what was awaited;
/// a whole check is bounded by ``checkTimeout``.
public struct ConformanceSuite: Sendable {
    /// Every check, grouped by clause.
    public static var checks: [ConformanceCheck] {
        keyChecks + valueChecks + treeChecks + recordChecks + operationChecks + transactionChecks
            + transactionTreeChecks + sequentialChecks + sessionChecks + cutChecks + watchChecks + errorChecks + namespaceChecks + namespaceGoneChecks + namespaceKeyWatchChecks + differentialChecks
    }

    /// The check called `name`, if there is one.
    public static func check(named name: String) -> ConformanceCheck? {
        checks.first { $0.name == name }
    }

    private let harness: any ConformanceHarness
    /// The bound on every wait for an event (a watch event, a session state).
    public let eventTimeout: Duration
    /// The bound on a whole check, so that a hung backend call fails instead of hanging the run.
    public let checkTimeout: Duration
    /// Bounds how many checks run at once (the wait for a slot is not part of ``checkTimeout``).
    public let gate: CheckGate

    public init(
        harness: some ConformanceHarness, eventTimeout: Duration = .seconds(15), checkTimeout: Duration = .seconds(120),
        gate: CheckGate = .shared
    ) {
        self.harness = harness
        self.eventTimeout = eventTimeout
        self.checkTimeout = checkTimeout
        self.gate = gate
    }

    /// Runs one check in a fresh namespace and cleans up after it.
    ///
    /// A check the harness lists in ``ConformanceHarness/expectedDeviations`` is run too: its
    /// failure is expected (the listed reason is the record) and `run` returns normally; if it
    /// passes, `run` throws so that the list is corrected.
    /// - Throws: ``ConformanceFailure``.
    public func run(_ check: ConformanceCheck) async throws {
        let outcome: ConformanceFailure? = await gate.run { await self.outcome(of: check) }
        if let reason = harness.expectedDeviations[check.name] {
            if outcome == nil {
                throw ConformanceFailure(
                    check: check.name,
                    message: "listed as a deviation of \(harness.backendName) (\(reason)) but passed: remove it from the list",
                    file: #fileID, line: #line)
            }
            return
        }
        if let outcome { throw outcome }
    }

    /// Runs every check, one after another, and throws one ``ConformanceFailures`` listing every
    /// failure.
    public func runAll() async throws {
        var failures: [ConformanceFailure] = []
        let known = Set(Self.checks.map(\.name))
        for name in harness.expectedDeviations.keys.sorted() where !known.contains(name) {
            failures.append(ConformanceFailure(
                check: name, message: "listed as a deviation of \(harness.backendName) but there is no such check",
                file: #fileID, line: #line))
        }
        for check in Self.checks {
            do {
                try await run(check)
            } catch let failure as ConformanceFailure {
                failures.append(failure)
            } catch {
                failures.append(ConformanceFailure(check: check.name, message: "\(error)", file: #fileID, line: #line))
            }
        }
        if !failures.isEmpty {
            throw ConformanceFailures(backend: harness.backendName, failures: failures)
        }
    }

    /// Runs `check`, returning its failure, or `nil` when it passed.
    private func outcome(of check: ConformanceCheck) async -> ConformanceFailure? {
        let namespace: Key
        do {
            namespace = try Key.root.child("conformance-" + Self.randomSuffix())
        } catch {
            return ConformanceFailure(check: check.name, message: "cannot name a namespace: \(error)", file: #fileID, line: #line)
        }
        let context = CheckContext(harness: harness, namespace: namespace, timeout: eventTimeout)
        var result: ConformanceFailure?
        do {
            try await within(checkTimeout, awaiting: "the whole check to finish") {
                try await check.body(context)
            }
        } catch let failure as ConformanceFailure {
            result = failure.attributed(to: check.name)
        } catch {
            result = ConformanceFailure(
                check: check.name, message: "unexpected error on \(harness.backendName): \(error)", file: #fileID, line: #line)
        }
        await context.finish()
        if let cleanupFailure = await removeNamespace(namespace) {
            result = result ?? ConformanceFailure(
                check: check.name, message: "cleanup of \(namespace) failed: \(cleanupFailure)", file: #fileID, line: #line)
        }
        return result
    }

    /// Deletes the check's namespace from a handle at the store's root; returns an error, if any.
    private func removeNamespace(_ namespace: Key) async -> (any Error)? {
        let root: any CoordinationStore
        do {
            root = try await harness.openStore(namespace: .root)
        } catch {
            return error
        }
        var result: (any Error)?
        do {
            try await root.delete(namespace, ifVersion: nil, recursive: true)
        } catch let error as CoordinationError where error.code == .noNode {
            // The check wrote nothing.
        } catch {
            result = error
        }
        await root.close()
        return result
    }

    private static func randomSuffix() -> String {
        let alphabet = Array("0123456789abcdef")
        return String((0..<12).map { _ in alphabet.randomElement()! })
    }
}
