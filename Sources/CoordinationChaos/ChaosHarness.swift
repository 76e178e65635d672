import Logging

/// Runs the chaos run of each configured backend in turn.
public enum ChaosHarness {
    /// One backend's outcome: its report, or why the run itself failed.
    public enum Outcome: Sendable {
        case report(ChaosReport)
        case failed(ChaosBackend, String)
    }

    public static func run(_ configuration: ChaosConfiguration, logger: Logger) async throws -> [Outcome] {
        var outcomes: [Outcome] = []
        for backend in configuration.backends {
            do {
                outcomes.append(.report(try await BackendRun(backend: backend, configuration: configuration, logger: logger).run()))
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
