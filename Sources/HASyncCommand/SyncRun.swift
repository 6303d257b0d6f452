import AuditLog
import Foundation
import KubernetesClient
import KubernetesLease
import Logging
import RunLock
import SyncCore
import SyncEngine
import SyncFileSystem
import SyncTrees
import Synchronization
import UnixSignals

/// One `ha-sync` run: lock, walk and apply, report, unlock.
struct SyncRun {
    let options: HASyncCommand
    let logger: Logger
    let console: Console

    init(options: HASyncCommand) {
        self.options = options
        self.console = Console()
        var logger = Logger(label: "ha-sync") { label in
            StderrLogHandler(label: label, format: options.logFormat, console: Console.shared)
        }
        logger.logLevel = options.verbose ? .debug : .info
        logger[metadataKey: "pair"] = "\(options.pair)"
        logger[metadataKey: "direction"] = "\(options.direction)"
        self.logger = logger
    }

    func run() async -> ExitStatus {
        do {
            try FileManager.default.createDirectory(atPath: options.logDir, withIntermediateDirectories: true)
        } catch {
            logger.error("cannot create the log directory \(options.logDir) (set --log-dir): \(Self.reason(error))")
            return .failed
        }
        let lock: any RunLock
        let leaseClient: LeaseClient?
        do {
            (lock, leaseClient) = try makeLock()
        } catch {
            logger.error("\(error)")
            return .failed
        }
        let held: any HeldLock
        do {
            switch try await lock.acquire() {
            case .held(let holder):
                logger.notice("pair \(options.pair) is locked by another run (\(holder)); nothing to do")
                console.emitHeld(pair: options.pair, holder: holder, format: options.output)
                await leaseClient?.shutdown()
                return .success
            case .acquired(let hold):
                held = hold
            }
        } catch {
            logger.error("\(error)")
            await leaseClient?.shutdown()
            return .failed
        }
        let status = await runLocked(held: held)
        await held.release()
        await leaseClient?.shutdown()
        return status
    }

    /// The lock the options ask for: a Lease when `--lock kubernetes` (or `auto` in a pod), else the file lock.
    private func makeLock() throws -> (any RunLock, LeaseClient?) {
        let inCluster = KubernetesConfiguration.isInCluster()
        let kubeconfig = options.kubeconfig ?? ProcessInfo.processInfo.environment["KUBECONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        guard options.lock == .kubernetes || (options.lock == .auto && inCluster) else {
            return (FileRunLock(directory: options.logDir, pair: options.pair, holderDescription: "direction \(options.direction)"), nil)
        }
        let configuration: KubernetesConfiguration
        if inCluster && options.kubeconfig == nil {
            configuration = try KubernetesConfiguration.inCluster()
        } else if let kubeconfig {
            configuration = try KubernetesConfiguration.kubeconfig(path: kubeconfig)
        } else {
            throw RunLockError("--lock kubernetes needs --kubeconfig, $KUBECONFIG, or a pod's service account")
        }
        let environment = ProcessInfo.processInfo.environment
        let pod = environment["POD_NAME"] ?? environment["HOSTNAME"] ?? ProcessInfo.processInfo.hostName
        let policy = LeasePolicy(
            name: Lease.name(pair: options.pair), namespace: options.leaseNamespace ?? configuration.namespace ?? "infrastructure",
            identity: "\(pod)/\(options.direction)", durationSeconds: options.lockTTL)
        let client = try LeaseClient(configuration: configuration)
        return (KubernetesLeaseLock(client: client, policy: policy, logger: logger), client)
    }

    private func runLocked(held: any HeldLock) async -> ExitStatus {
        var iteration = IterationRecord(
            runID: UUID().uuidString.lowercased(), pair: options.pair, direction: options.direction,
            source: options.src, destination: options.dest, startedAt: .now(), dryRun: options.dryRun)
        let dsn: DatabaseDSN
        do {
            dsn = try AuditStores.resolve(flag: options.dbDSN, logDirectory: options.logDir)
        } catch {
            logger.error("\(error)")  // validated already; kept for safety
            return .failed
        }
        let audit = await RunAudit.start(dsn: dsn, logDirectory: options.logDir, iteration: iteration, logger: logger)
        let (status, report, failure) = await sync(audit: audit, held: held)
        let auditStatus: IterationRecord.Status =
            switch report?.status {
            case .success: .success
            case .partialFailure: .partialFailure
            case .failed, nil: .failed
            }
        iteration.finish(status: auditStatus, summary: report?.summary ?? SyncSummary(), endedAt: .now(), errorMessage: failure)
        switch await audit.finish(iteration, retainDays: options.logRetainDays) {
        case .dryRunAlreadyCurrent(let since):
            console.emitDryRunCurrent(since: since, format: options.output)
        case .recorded, .pending:
            break
        }
        await audit.close()
        return status
    }

    /// Opens the trees and runs the engine. Returns the exit status, the report (nil when the
    /// run could not start) and the error message for the audit trail.
    private func sync(audit: RunAudit, held: any HeldLock) async -> (ExitStatus, SyncReport?, String?) {
        let source: LocalTree
        let destination: LocalTree
        do {
            source = try LocalTree(root: options.src)
        } catch {
            let message = "source directory \(options.src) cannot be used: \(Self.reason(error))"
            logger.error("\(message)")
            return (.failed, nil, message)
        }
        do {
            destination = try LocalTree(root: options.dest)
        } catch {
            let message = "destination directory \(options.dest) cannot be used: \(Self.reason(error))"
            logger.error("\(message)")
            return (.failed, nil, message)
        }

        let configuration = SyncConfiguration(
            reconciler: ComparisonRules(
                mtimeThresholdNanoseconds: Int64((options.mtimeThreshold * 1e9).rounded()), deleteMissing: options.deleteMissing),
            deleteGuard: DeleteGuard(maxDeletePercent: options.maxDelete),
            workers: options.workers,
            dryRun: options.dryRun,
            copyOptions: CopyOptions(verify: options.verify, fsync: options.fsync)
        )
        let stop = StopSignal()
        let progress = SyncProgress()
        let observer = CompositeObserver(observers: [
            ConsoleObserver(console: console, format: options.output, dryRun: options.dryRun, verbose: options.verbose, logger: logger),
            audit.observer,
        ])
        let engine = SyncEngine(
            source: source, destination: destination, configuration: configuration,
            observer: observer, progress: progress, stopSignal: stop, logger: logger)

        logger.info(
            "\(options.dryRun ? "dry run" : "sync") started",
            metadata: [
                "src": "\(options.src)", "dest": "\(options.dest)", "workers": "\(options.workers)", "delete_missing": "\(options.deleteMissing)",
            ])

        let signals = SignalState()
        let logger = self.logger
        let console = self.console
        let live = options.output == .text && !options.noProgress && console.stderrIsTerminal && options.logFormat == .text
        let result: Result<SyncReport, any Error> = await withTaskGroup(of: Result<SyncReport, any Error>?.self) { group in
            group.addTask {
                for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                    if signals.record(signal == .sigint ? .interrupted : .terminated) {
                        stop.stop(reason: "received \(signal)")
                        logger.warning("\(signal) received: finishing files in flight, then stopping (send it again to exit at once)")
                    } else {
                        // A second signal: leave now; temporary files are cleaned up by the next run.
                        exit(signals.status?.rawValue ?? ExitStatus.terminated.rawValue)
                    }
                }
                return nil
            }
            let reporter = ProgressReporter(progress: progress, console: console, logger: logger, live: live)
            group.addTask {
                await reporter.run()
                return nil
            }
            group.addTask {
                // Renews a Lease; losing it stops every write at once.
                await held.maintain { reason in stop.stop(reason: "lost the run lock: \(reason)") }
                return nil
            }
            group.addTask {
                do {
                    return .success(try await engine.run())
                } catch {
                    return .failure(error)
                }
            }
            var outcome: Result<SyncReport, any Error> = .failure(CancellationError())
            while let next = await group.next() {
                if let next {
                    outcome = next
                    group.cancelAll()
                }
            }
            return outcome
        }
        console.clearProgress()

        switch result {
        case .failure(let error):
            logger.error("run failed: \(error)")
            console.emitFailure(message: "\(error)", format: options.output)
            return (.failed, nil, "\(error)")
        case .success(let report):
            console.emitSummary(report, options: options)
            var message = report.failureMessage
            if let message {
                logger.error("\(message)")
            } else if report.summary.failed > 0 {
                logger.warning("\(report.summary.failed) paths failed; the next run retries them")
                message = "\(report.summary.failed) paths failed; see the failed operations and the run's log"
            }
            if report.deletesWithheld > 0 {
                logger.warning("\(report.deletesWithheld) deletes withheld because part of the source could not be listed")
            }
            let status: ExitStatus =
                if report.interruption != nil {
                    signals.status ?? .failed
                } else if report.refusal != nil {
                    .refused
                } else {
                    report.status == .partialFailure ? .partialFailure : .success
                }
            return (status, report, message)
        }
    }

    static func reason(_ error: any Error) -> String {
        if let error = error as? SyncTreeError, let code = error.errno {
            return String(cString: strerror(code))
        }
        if let error = error as? CocoaError, let underlying = error.userInfo[NSUnderlyingErrorKey] as? POSIXError {
            return String(cString: strerror(underlying.code.rawValue))
        }
        return "\(error)"
    }
}

/// Which signal stopped the run; the first one wins.
final class SignalState: Sendable {
    private let state = Mutex<ExitStatus?>(nil)

    /// Records a signal; returns true for the first one.
    func record(_ status: ExitStatus) -> Bool {
        state.withLock { current in
            guard current == nil else { return false }
            current = status
            return true
        }
    }

    var status: ExitStatus? { state.withLock { $0 } }
}
