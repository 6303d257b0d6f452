public import Logging
import SyncCore
public import SyncTrees

/// Syncs two trees under a ``Reconciler``: in one-way mode, makes the destination match the source.
///
/// The two sides may be different kinds of tree (local, in memory, remote): a copy opens a
/// reader on one side and streams it into an atomic writer on the other.
///
/// Both trees are walked directory by directory and merged as they go, so copying starts
/// long before the walk ends and memory holds only the listings in progress. With
/// `--delete-missing` a metadata-only survey runs first, so the delete guards can refuse
/// before anything is touched; deletes are carried out last, after every copy.
public struct SyncEngine<Source: SyncTree, Destination: SyncTree>: Sendable {
    /// Side A: the source in one-way mode.
    public let source: Source
    /// Side B: the destination in one-way mode.
    public let destination: Destination
    public let configuration: SyncConfiguration
    public let observer: any SyncObserver
    public let progress: SyncProgress
    public let stopSignal: StopSignal
    public let logger: Logger
    /// Copies waiting for the end of the run (`--delay-updates`).
    let staged = StagedCopies()

    public init(
        source: Source,
        destination: Destination,
        configuration: SyncConfiguration,
        observer: any SyncObserver = NullObserver(),
        progress: SyncProgress = SyncProgress(),
        stopSignal: StopSignal = StopSignal(),
        logger: Logger
    ) {
        self.source = source
        self.destination = destination
        self.configuration = configuration
        self.observer = observer
        self.progress = progress
        self.stopSignal = stopSignal
        self.logger = logger
    }

    /// The tree on one side.
    func tree(_ side: Side) -> any SyncTree {
        side == .a ? source : destination
    }

    /// What a pass does with the plan.
    enum Mode: Sendable {
        /// Count entries and deletes for the delete guards; change nothing, hash nothing.
        case survey
        /// Resolve the plan (hashing where needed) and report it; change nothing.
        case dryRun
        /// Carry the plan out.
        case apply
    }

    /// Runs the sync. Throws only when the run cannot start (a root cannot be listed);
    /// problems with single paths are counted as failures in the report.
    public func run() async throws -> SyncReport {
        let started = monotonicNanoseconds()
        // Blocking file system calls run here, never on Swift's cooperative pool: a copy
        // stuck on a slow NFS server must not starve the rest of the process.
        // The wide pool (for remote trees) has room for every job the limits allow at once;
        // a listing takes two threads, one per side.
        let pool = NIOThreadPoolBox(threads: configuration.workers * 3, wideThreads: configuration.metadataConcurrency.ceiling * 3)
        do {
            let report = try await run(pool: pool, started: started)
            await pool.shutdown()
            return report
        } catch {
            await pool.shutdown()
            throw error
        }
    }

    private func run(pool: NIOThreadPoolBox, started: Int64) async throws -> SyncReport {
        var report = SyncReport()
        if configuration.reconciler.mayDelete {
            progress.enter(.listing)
            let survey = try await Pass(engine: self, mode: .survey, pool: pool).run()
            let verdict = configuration.deleteGuard.check(
                sourceRootEntries: survey.sourceRootEntries,
                destinationRootEntries: survey.destinationRootEntries,
                plannedFileDeletes: survey.plannedFileDeletes,
                destinationFiles: survey.destinationFiles
            )
            if verdict != .allow {
                report.refusal = verdict
                report.durationNanoseconds = monotonicNanoseconds() - started
                return report
            }
        }

        let mode: Mode = configuration.dryRun ? .dryRun : .apply
        progress.enter(.copying)
        let pass = Pass(engine: self, mode: mode, pool: pool)
        let outcome = try await pass.run()
        report.summary = outcome.summary
        report.sourceWalkFailed = outcome.sourceWalkFailed
        report.temporaryFilesRemoved = outcome.temporaryFilesRemoved
        progress.update { $0.walkFinished = true }
        // Staged copies are renamed into place (or, after a stop, removed) before anything is
        // published after them.
        try await publishStaged(mode: mode, pool: pool, into: &report.summary)
        try await publishHeld(outcome.held, mode: mode, pool: pool, into: &report.summary)

        if stopSignal.isStopped {
            report.interruption = stopSignal.reason
        } else if !outcome.deletes.isEmpty {
            progress.enter(.deleting)
            try await runDeletes(outcome, mode: mode, pool: pool, report: &report)
        }
        if let versions = configuration.versions, !stopSignal.isStopped, report.refusal == nil {
            // The keep rules, at the end of the run, under the pair's lock.
            progress.enter(.pruning)
            let pruned = try await pool.run { [destination, stopSignal] in
                VersionStore(settings: versions).pruneStore(
                    on: destination, side: nil, dryRun: mode == .dryRun, shouldStop: { stopSignal.isStopped })
            }
            for result in pruned.results { observer.operationFinished(result) }
            record(pruned.results, into: &report.summary, notify: false)
            report.summary.versionStoreFiles = pruned.keptFiles
            report.summary.versionStoreBytes = pruned.keptBytes
        }
        if report.interruption == nil, let reason = stopSignal.reason {
            report.interruption = reason
        }
        report.durationNanoseconds = monotonicNanoseconds() - started
        return report
    }
}
