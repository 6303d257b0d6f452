public import Logging
public import SyncCore
public import SyncTrees

/// Syncs two trees both ways against a ``StateArchive``: each side is compared with the state
/// of the last sync, so a file created, edited, restored or deleted on either side travels to
/// the other, and a path changed on both sides keeps both versions (a conflict copy).
///
/// The shape follows the one-way ``SyncEngine``: a metadata-only survey first, so the guards
/// can refuse before anything changes; then one walk that lists both sides and the archive a
/// folder at a time, decides with ``BidirectionalRules``, and applies as it goes; deletes last.
/// The archive advances as operations succeed, so an interrupted run is followed by one that
/// knows what was really synced.
public struct BidirectionalEngine<A: SyncTree, B: SyncTree>: Sendable {
    public let a: A
    public let b: B
    public let archive: any StateArchive
    public let rules: BidirectionalRules
    public let configuration: SyncConfiguration
    /// How each side is named in conflict copies (`a`/`b`, or the servers' names).
    public let labels: SideLabels
    public let observer: any SyncObserver
    public let progress: SyncProgress
    public let stopSignal: StopSignal
    public let logger: Logger

    public init(
        a: A,
        b: B,
        archive: any StateArchive,
        rules: BidirectionalRules,
        configuration: SyncConfiguration,
        labels: SideLabels = SideLabels(),
        observer: any SyncObserver = NullObserver(),
        progress: SyncProgress = SyncProgress(),
        stopSignal: StopSignal = StopSignal(),
        logger: Logger
    ) {
        self.a = a
        self.b = b
        self.archive = archive
        self.rules = rules
        self.configuration = configuration
        self.labels = labels
        self.observer = observer
        self.progress = progress
        self.stopSignal = stopSignal
        self.logger = logger
    }

    func tree(_ side: Side) -> any SyncTree {
        side == .a ? a : b
    }

    /// Runs the sync. Throws when the run cannot start (a root cannot be listed, the archive
    /// fails); problems with single paths are counted as failures in the report.
    public func run() async throws -> SyncReport {
        let started = monotonicNanoseconds()
        let pool = NIOThreadPoolBox(threads: configuration.workers * 3, wideThreads: configuration.metadataConcurrency.ceiling * 3)
        do {
            var report = try await run(pool: pool)
            await pool.shutdown()
            report.durationNanoseconds = monotonicNanoseconds() - started
            return report
        } catch {
            await pool.shutdown()
            throw error
        }
    }

    private func run(pool: NIOThreadPoolBox) async throws -> SyncReport {
        var report = SyncReport()
        let mode: WalkMode = configuration.dryRun ? .dryRun : .apply
        var outcome: BidirectionalOutcome
        if archive.isFresh {
            // Nothing can be deleted without an archive: no guard to consult first.
            logger.notice("no state archive for this pair yet: this run is a first run (the union of both sides; nothing is deleted)")
            progress.enter(.copying)
            outcome = try await BidirectionalWalk(engine: self, mode: mode, pool: pool).run()
        } else {
            // Decide everything first and change nothing, so the guards see the real plan.
            progress.enter(.listing)
            let planned = try await BidirectionalWalk(engine: self, mode: .plan, pool: pool).run()
            if let refusal = try await guardVerdict(planned) {
                report.refusal = refusal
                return report
            }
            progress.enter(.copying)
            if planned.overflowed {
                // Too many changes to hold: walk again, applying as it goes.
                outcome = try await BidirectionalWalk(engine: self, mode: mode, pool: pool).run()
            } else {
                outcome = planned
                outcome.temporaryFilesRemoved = mode == .apply ? await removeTemporaryFiles(planned.temporaryFiles, pool: pool) : 0
                try await applyPending(planned.pending, mode: mode, pool: pool, outcome: &outcome)
            }
        }
        report.summary = outcome.summary
        report.sourceWalkFailed = outcome.listingFailed
        report.temporaryFilesRemoved = outcome.temporaryFilesRemoved
        progress.update { $0.walkFinished = true }
        if !stopSignal.isStopped {
            if let refusal = try await guardVerdict(outcome) {
                // The trees changed since the plan: still nothing deleted.
                report.refusal = refusal
            } else {
                progress.enter(.deleting)
                try await runDeletes(outcome, mode: mode, pool: pool, summary: &report.summary)
            }
        }
        if mode == .apply { await finishCreatedDirectories(outcome.createdDirectories, pool: pool) }
        if let versions = configuration.versions, !stopSignal.isStopped, report.refusal == nil {
            // The keep rules, at the end of the run, under the pair's lock, on both sides.
            progress.enter(.pruning)
            for side in [Side.a, .b] {
                let tree = self.tree(side)
                let pruned = try await pool.run { [stopSignal] in
                    VersionStore(settings: versions).pruneStore(on: tree, side: side, dryRun: mode == .dryRun, shouldStop: { stopSignal.isStopped })
                }
                for result in pruned.results { observer.operationFinished(result) }
                count(pruned.results, into: &report.summary, notify: false)
                report.summary.versionStoreFiles += pruned.keptFiles
                report.summary.versionStoreBytes += pruned.keptBytes
            }
        }
        try await archive.flush()
        if let reason = stopSignal.reason { report.interruption = reason }
        return report
    }

    private func guardVerdict(_ outcome: BidirectionalOutcome) async throws -> DeleteGuard.Verdict? {
        guard !archive.isFresh else { return nil }
        let archivedFiles = try await archive.fileCount()
        let verdict = configuration.deleteGuard.checkBidirectional(
            sides: [
                (a.displayName, outcome.rootEntries[0], outcome.plannedFileDeletes[0]),
                (b.displayName, outcome.rootEntries[1], outcome.plannedFileDeletes[1]),
            ],
            archivedRootEntries: outcome.archivedRootEntries, archivedFiles: archivedFiles)
        return verdict == .allow ? nil : verdict
    }
}

/// How the two sides are named in conflict copies and messages.
public struct SideLabels: Sendable, Hashable {
    public var a: String
    public var b: String

    public init(a: String = "a", b: String = "b") {
        self.a = a
        self.b = b
    }

    public subscript(side: Side) -> String { side == .a ? a : b }
}
