import Logging

/// Runs the chaos run of each configured backend in turn.
public enum ChaosHarness {
    /// One backend's outcome: its report, or why the run itself failed.
    public enum Outcome: Sendable {
        case report(ChaosReport)
        case failed(ChaosBackend, String)

        /// The backend the outcome is of.
        public var backend: ChaosBackend {
            switch self {
            case .report(let report): report.backend
            case .failed(let backend, _): backend
            }
        }
    }

    /// Runs every backend of `configuration`, in order; one outcome per backend. Whether every one
    /// of them ran is for ``ChaosVerdict`` to judge.
    public static func run(_ configuration: ChaosConfiguration, logger: Logger) async throws -> [Outcome] {
        try await run(configuration.backends) { backend in
            try await BackendRun(backend: backend, configuration: configuration, logger: logger).run()
        }
    }

    /// Runs `runBackend` for each of `backends` in turn: a failure of one becomes its outcome and
    /// the next one runs all the same; cancellation ends it all.
    static func run(_ backends: [ChaosBackend], each runBackend: (ChaosBackend) async throws -> ChaosReport) async throws -> [Outcome] {
        var outcomes: [Outcome] = []
        for backend in backends {
            do {
                outcomes.append(.report(try await runBackend(backend)))
            } catch let failure as ChaosFailure {
                outcomes.append(.failed(backend, failure.description))
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                outcomes.append(.failed(backend, "\(error)"))
            }
            try Task.checkCancellation()
        }
        return outcomes
    }
}
