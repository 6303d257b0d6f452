public import Logging
import ServiceLifecycle
import SyncEngine
public import SyncTrees
import Synchronization
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// Runs a ``SyncRunner`` as a process does: the run, the signal handler and the progress
/// reporter as `Service`s of one `ServiceGroup`. The first SIGTERM or SIGINT, at any point
/// from start to exit, stops the run gracefully (the lock is released, the exit status says
/// which signal); a second one exits at once.
public enum RunServices {
    public static func run<Source: SyncTree, Destination: SyncTree>(
        _ runner: SyncRunner<Source, Destination>,
        progressInterval: Duration,
        logger: Logger
    ) async throws -> RunOutcome {
        let run = RunService(runner: runner)
        var groupLogger = logger
        groupLogger.logLevel = max(logger.logLevel, .warning)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    // Helpers never end the group: only the run does, and it must finish its audit.
                    .init(service: SignalService(shutdown: runner.shutdown, logger: logger), successTerminationBehavior: .ignore),
                    .init(
                        service: ProgressService(progress: runner.progress, reporter: runner.reporter, interval: progressInterval),
                        successTerminationBehavior: .ignore),
                    .init(service: run, successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                logger: groupLogger))
        try await group.run()
        return run.outcome ?? RunOutcome(status: .failed, message: "the run ended without an outcome")
    }
}

/// The run itself; its end shuts the group down.
final class RunService<Source: SyncTree, Destination: SyncTree>: Service {
    let runner: SyncRunner<Source, Destination>
    private let result = Mutex<RunOutcome?>(nil)

    init(runner: SyncRunner<Source, Destination>) {
        self.runner = runner
    }

    var outcome: RunOutcome? { result.withLock { $0 } }

    func run() async throws {
        let outcome = await runner.run()
        result.withLock { $0 = outcome }
    }
}

/// Turns SIGTERM and SIGINT into a graceful stop of the run; a second signal exits at once
/// (temporary files are cleaned up by the next run).
struct SignalService: Service {
    let shutdown: RunShutdown
    let logger: Logger

    func run() async throws {
        let shutdown = self.shutdown
        let logger = self.logger
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        await cancelWhenGracefulShutdown {
            for await signal in signals {
                let status: ExitStatus = signal == .sigint ? .interrupted : .terminated
                if shutdown.signal(status, reason: "received \(signal)") {
                    logger.warning("\(signal) received: finishing files in flight, then stopping (send it again to exit at once)")
                } else {
                    exit(shutdown.signalStatus?.rawValue ?? status.rawValue)
                }
            }
        }
    }
}

/// Reports progress every `interval` until the group shuts down.
struct ProgressService: Service {
    let progress: SyncProgress
    let reporter: any RunReporter
    let interval: Duration

    func run() async throws {
        let progress = self.progress
        let reporter = self.reporter
        let interval = self.interval
        let clock = ContinuousClock()
        let start = clock.now
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: interval)
                let snapshot = progress.snapshot
                // Once the summary is printed the run only records itself: nothing more to show.
                if !snapshot.ended {
                    reporter.progress(snapshot, elapsed: start.duration(to: clock.now))
                }
            }
        }
        reporter.progressEnded()
    }
}
