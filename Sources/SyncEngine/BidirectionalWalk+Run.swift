import DequeModule
import SyncCore
import SyncTrees

/// One walk over both sides and the archive: a survey, a dry run or the real run.
///
/// One task owns the state; children list and plan a folder, or apply a batch, on the I/O pool
/// and hand back values. Concurrency follows ``MetadataConcurrency`` as in the one-way pass;
/// folders are taken depth-first and listing pauses while many batches wait, so memory holds
/// the listings in progress, not the tree.
struct BidirectionalWalk<A: SyncTree, B: SyncTree>: Sendable {
    let engine: BidirectionalEngine<A, B>
    let mode: WalkMode
    let pool: NIOThreadPoolBox
    /// Whether the walk records in-sync paths in the archive (never in a dry run).
    var recordsArchive: Bool { mode == .apply }
    /// Operations a `.plan` walk keeps; beyond this it counts deletes only and a second walk applies.
    static var pendingLimit: Int { 20_000 }

    /// Listing pauses while this many batches (or twice the ceiling of batches in flight)
    /// wait to be applied: each waiting one is memory.
    static var backlogLimit: Int { 64 }

    private enum Child: Sendable {
        case planned(BidirectionalJob, BidirectionalListing, BidirectionalPlan)
        case applied(large: Bool, stream: Bool, [OperationResult], [ArchiveUpdate])
    }

    func run() async throws -> BidirectionalOutcome {
        var outcome = BidirectionalOutcome()
        var directories: [BidirectionalJob] = [BidirectionalJob(path: .root, present: [true, true], archived: true)]
        var batches = Deque<(operations: [BidirectionalOperation], bytes: Int64)>()
        let workers = engine.configuration.workers
        let concurrency = engine.configuration.metadataConcurrency
        var latency = LatencyEstimate()
        var listing = 0
        var applying = 0
        var applyingLarge = 0
        var streaming = 0

        try await withThrowingTaskGroup(of: Child.self) { group in
            while true {
                let stopped = engine.stopSignal.isStopped
                let observed = latency.microsPerRequest(
                    peerExchangeMicros: peerExchangeMicros(engine.a, engine.b))
                let remote = concurrency.isRemote(observedMicrosPerRequest: observed)
                let peer = engine.a.batchesTransfers || engine.b.batchesTransfers
                while !stopped && applying < concurrency.batches(observedMicrosPerRequest: observed), let next = batches.first {
                    let large = next.bytes >= OperationBatches.maxBytes
                    if large && applyingLarge >= workers { break }
                    let stream = peer && next.bytes >= MetadataConcurrency.peerStreamBytes
                    if stream && streaming >= concurrency.peerStreams { break }
                    batches.removeFirst()
                    applying += 1
                    if large { applyingLarge += 1 }
                    if stream { streaming += 1 }
                    group.addTask { [engine, mode, pool] in
                        let (results, updates) = try await pool.run(wide: remote && !large) { engine.apply(next.operations, mode: mode) }
                        return .applied(large: large, stream: stream, results, updates)
                    }
                }
                while !stopped && listing < concurrency.listings(observedMicrosPerRequest: observed)
                    && batches.count < max(Self.backlogLimit, 2 * concurrency.ceiling),
                    let job = directories.popLast()
                {
                    listing += 1
                    group.addTask { [engine, mode, pool] in
                        let listed = try await engine.list(job, mode: mode, pool: pool, remote: remote)
                        // Only an applying walk touches a disk while planning (it creates folders);
                        // otherwise planning is pure work and needs no trip to the I/O pool.
                        let plan =
                            mode == .apply
                            ? try await pool.run(wide: remote) { engine.plan(job, listed, mode: mode) } : engine.plan(job, listed, mode: mode)
                        return .planned(job, listed, plan)
                    }
                }
                guard let child = try await group.next() else { break }
                switch child {
                case .planned(let job, let listed, var plan):
                    listing -= 1
                    let requests =
                        listed.overlapped
                        ? max(listed.entries[0].count, listed.entries[1].count) + 1 : listed.entries[0].count + listed.entries[1].count + 2
                    latency.add(nanoseconds: listed.nanoseconds, requests: requests)
                    if job.path.isRoot {
                        if let failure = listed.failure {
                            throw RootUnavailable(
                                message:
                                    "cannot list \(engine.tree(failure.side).displayName): \((failure.error as? SyncTreeError)?.message ?? "\(failure.error)")"
                            )
                        }
                        outcome.rootEntries = [listed.entries[0].count, listed.entries[1].count]
                        outcome.archivedRootEntries = listed.archived.count
                    }
                    if mode == .apply {
                        outcome.temporaryFilesRemoved += await removeTemporaryFiles(listed, in: job.path)
                    } else if mode == .plan {
                        for (index, side) in [Side.a, .b].enumerated() {
                            outcome.temporaryFiles += listed.temporaryFiles[index].map { (side, job.path, $0) }
                        }
                    }
                    absorb(&plan, into: &outcome)
                    if (mode == .apply || (mode == .plan && !engine.configuration.dryRun)) && !plan.archiveUpdates.isEmpty {
                        // In-sync paths and forgotten ones: true whatever the guards decide later.
                        try await engine.archive.record(plan.archiveUpdates)
                    }
                    for subdirectory in plan.subdirectories.reversed() { directories.append(subdirectory) }
                    if mode == .plan {
                        // Progress while deciding: what was looked at (the work is counted when applied).
                        let entries = listed.entries[0].count + listed.entries[1].count
                        engine.progress.update { $0.scanned += entries }
                        if !outcome.overflowed {
                            outcome.pending += plan.operations
                            if outcome.pending.count > Self.pendingLimit {
                                outcome.overflowed = true
                                outcome.pending = []
                            }
                        }
                        continue
                    }
                    let split = OperationBatches.split(plan.operations) { $0.bytes }
                    batches.append(contentsOf: split.map { (operations: $0.items, bytes: $0.bytes) })
                    let plannedBytes = split.reduce(Int64(0)) { $0 + $1.bytes }
                    let planned = plan.operations.count + plan.deletes.count + plan.results.count
                    engine.progress.update {
                        $0.scanned += listed.entries[0].count + listed.entries[1].count
                        $0.planned += planned
                        $0.plannedBytes += plannedBytes
                    }
                case .applied(let large, let stream, let results, let updates):
                    applying -= 1
                    if stream { streaming -= 1 }
                    if large { applyingLarge -= 1 }
                    engine.count(results, into: &outcome.summary, notify: false)
                    if mode == .apply && !updates.isEmpty { try await engine.archive.record(updates) }
                }
            }
        }
        // What follows (a planned run's operations, the deletes) waits on a peer's round trips
        // as the walk did, though a peer's listings look fast per entry.
        outcome.microsPerRequest = latency.microsPerRequest(peerExchangeMicros: peerExchangeMicros(engine.a, engine.b))
        return outcome
    }

    private func absorb(_ plan: inout BidirectionalPlan, into outcome: inout BidirectionalOutcome) {
        engine.count(plan.results, into: &outcome.summary, notify: true)
        outcome.summary.skipped += plan.skipped
        outcome.summary.excluded += plan.exclusions.count
        for (path, rule) in plan.exclusions {
            engine.observer.skipped(path, reason: .excluded)
            engine.logger.debug("excluded", metadata: ["path": "\(path)", "rule": "\(rule.text)", "from": "\(rule.origin)"])
        }
        for (path, reason) in plan.notableSkips { engine.observer.skipped(path, reason: reason) }
        outcome.plannedFileDeletes[0] += plan.plannedFileDeletes[0]
        outcome.plannedFileDeletes[1] += plan.plannedFileDeletes[1]
        outcome.deletes.append(contentsOf: plan.deletes)
        outcome.directoryDeletes.append(contentsOf: plan.directoryDeletes)
        outcome.createdDirectories.append(contentsOf: plan.createdDirectories)
        outcome.listingFailed = outcome.listingFailed || plan.listingFailed
    }

    /// Removes what killed runs left: the engine's temporary files, on both sides.
    private func removeTemporaryFiles(_ listed: BidirectionalListing, in directory: RelativePath) async -> Int {
        let names = listed.temporaryFiles
        guard !names[0].isEmpty || !names[1].isEmpty else { return 0 }
        let engine = self.engine
        return
            (try? await pool.run {
                var removed = 0
                for (index, side) in [Side.a, .b].enumerated() {
                    for name in names[index] where (try? engine.tree(side).removeTemporaryFile(named: name, in: directory)) != nil {
                        removed += 1
                    }
                }
                return removed
            }) ?? 0
    }
}

extension BidirectionalEngine {
    /// Counts results in the summary and the progress; `notify` also reports them.
    func count(_ results: [OperationResult], into summary: inout SyncSummary, notify: Bool) {
        guard !results.isEmpty else { return }
        for result in results {
            summary.record(result)
            if notify { observer.operationFinished(result) }
        }
        progress.count(results)
    }
}
