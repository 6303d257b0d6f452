import DequeModule
import SyncCore
import SyncTrees

/// What one pass over both trees found and did.
struct PassOutcome: Sendable {
    var summary = SyncSummary()
    var deletes: [PlannedOperation] = []
    /// Directories (present on both sides) whose content a delete will change, with the source's entry.
    var deleteParents: [(RelativePath, Entry)] = []
    var sourceWalkFailed = false
    var sourceRootEntries = 0
    var destinationRootEntries = 0
    var destinationFiles = 0
    var plannedFileDeletes = 0
    var temporaryFilesRemoved = 0
    /// Files that announce others (`--publish-after`, `--publish-last`), held back until the
    /// rest of the run is in place.
    var held: [PlannedOperation] = []
    /// The time per request the pass observed, so the deletes that follow size their concurrency.
    var microsPerRequest: Double?
}

extension SyncEngine {
    /// One walk over both trees, applying (or resolving) operations as listings come in.
    ///
    /// A single task owns all the state; children only list a directory or apply a batch on
    /// the I/O pool and hand back values. Listings and batches of small files in flight follow
    /// ``MetadataConcurrency`` (twice `--workers` on a local disk, more when each request waits
    /// on a network); batches that move much data stay at `--workers`. Directories are taken depth-first and listing pauses while many batches
    /// wait, which keeps memory to the listings in progress, not the size of the tree.
    struct Pass: Sendable {
        let engine: SyncEngine
        let mode: Mode
        let pool: NIOThreadPoolBox

        /// Round trips a small file's write costs on the destination (open the folder, create,
        /// write, set mode and times, rename, close), for the latency estimate.
        static var requestsPerWrite: Int { 8 }

        /// Listing pauses while this many batches (or twice the ceiling of batches in flight)
        /// wait to be applied: each waiting one is memory (256 held 2.5 MiB).
        static var backlogLimit: Int { 64 }

        /// Finished directories that share one exchange with a tree across a network.
        static var finishBatch: Int { 64 }

        private enum ChildResult: Sendable {
            case listed(DirectoryJob, ListingOutcome)
            case applied(trackerID: Int, large: Bool, stream: Bool, [OperationResult], nanoseconds: Int64)
            case finishedDirectories
        }

        func run() async throws -> PassOutcome {
            var outcome = PassOutcome()
            var tracker = DirectoryTracker()
            var directories: [DirectoryJob] = []  // a stack: depth first
            var batches = Deque<(trackerID: Int, operations: [PlannedOperation], bytes: Int64)>()
            let rootID = tracker.add(path: .root, parent: nil, sourceEntry: nil)
            directories.append(DirectoryJob(path: .root, descend: .both, trackerID: rootID, source: nil))
            let workers = engine.configuration.workers
            let concurrency = engine.configuration.metadataConcurrency
            var latency = LatencyEstimate()
            var listing = 0
            var applying = 0
            var applyingLarge = 0
            var streaming = 0
            var rootListed = false
            var unfinished: [FinishedDirectory] = []
            let batching = engine.source.batchesTransfers || engine.destination.batchesTransfers

            try await withThrowingTaskGroup(of: ChildResult.self) { group in
                while true {
                    let stopped = engine.stopSignal.isStopped
                    // Metadata-bound work (listings, batches of small files) follows the observed
                    // latency; batches that move a lot of data stay at --workers.
                    let observed = latency.microsPerRequest(
                        peerExchangeMicros: peerExchangeMicros(engine.source, engine.destination))
                    let batchLimit = concurrency.batches(observedMicrosPerRequest: observed)
                    let listingLimit = concurrency.listings(observedMicrosPerRequest: observed)
                    let remote = concurrency.isRemote(observedMicrosPerRequest: observed)
                    while !stopped && applying < batchLimit, let next = batches.first {
                        let large = next.bytes >= OperationBatches.maxBytes
                        if large && applyingLarge >= workers { break }
                        let stream = batching && next.bytes >= MetadataConcurrency.peerStreamBytes
                        if stream && streaming >= concurrency.peerStreams { break }
                        batches.removeFirst()
                        applying += 1
                        if large { applyingLarge += 1 }
                        if stream { streaming += 1 }
                        group.addTask { [engine, mode, pool] in
                            // Timed on the I/O thread, so waiting for a thread is not counted as latency.
                            let (results, nanoseconds) = try await pool.run(wide: remote && !large) {
                                let started = monotonicNanoseconds()
                                let results = engine.apply(next.operations, mode: mode)
                                return (results, monotonicNanoseconds() - started)
                            }
                            return .applied(trackerID: next.trackerID, large: large, stream: stream, results, nanoseconds: nanoseconds)
                        }
                    }
                    while !stopped && listing < listingLimit && batches.count < max(Self.backlogLimit, 2 * concurrency.ceiling),
                        let job = directories.popLast()
                    {
                        listing += 1
                        group.addTask { [engine, mode, pool] in
                            guard remote else {
                                // Local: one trip to the pool; each side takes microseconds.
                                return .listed(job, try await pool.run { engine.listAndPlan(job, mode: mode) })
                            }
                            // Remote: each side's requests wait on their own server, so overlap them.
                            let started = monotonicNanoseconds()
                            async let source = pool.run(wide: true) { engine.listSide(job, .a, mode: mode) }
                            async let destination = pool.run(wide: true) { engine.listSide(job, .b, mode: mode) }
                            let (a, b) = try await (source, destination)
                            let elapsed = monotonicNanoseconds() - started
                            var listed = try await pool.run(wide: true) {
                                engine.plan(job, source: a, destination: b, mode: mode, listingNanoseconds: elapsed)
                            }
                            listed.sidesOverlapped = true
                            return .listed(job, listed)
                        }
                    }
                    // Across a network, finished directories wait to share one exchange: they
                    // go once many wait, nothing else is in flight (the pass's end included), or
                    // the run is stopping.
                    if !unfinished.isEmpty
                        && (!batching || stopped || unfinished.count >= Self.finishBatch || (listing == 0 && applying == 0))
                    {
                        let completed = unfinished
                        unfinished = []
                        group.addTask { [engine, pool] in
                            try await pool.run { engine.finishDirectories(completed) }
                            return .finishedDirectories
                        }
                    }
                    guard let child = try await group.next() else { break }
                    var finishedWork: Int?
                    switch child {
                    case .listed(let job, let listed):
                        listing -= 1
                        // Each entry costs at least one request on the side it was listed from.
                        // Listed side by side, the larger side sets the time; one after the other, both do.
                        let requests =
                            listed.sidesOverlapped
                            ? max(listed.sourceEntries, listed.destinationEntries) + 1 : listed.sourceEntries + listed.destinationEntries + 2
                        latency.add(nanoseconds: listed.listingNanoseconds, requests: requests)
                        if job.path.isRoot {
                            rootListed = true
                            outcome.sourceRootEntries = listed.sourceEntries
                            outcome.destinationRootEntries = listed.destinationEntries
                            if let failure = listed.results.first(where: { $0.status == .failed && $0.path.isRoot }) {
                                throw RootUnavailable(message: failure.errorMessage ?? "cannot list the root")
                            }
                        }
                        absorb(listed, of: job, tracker: &tracker, directories: &directories, batches: &batches, into: &outcome)
                        finishedWork = job.trackerID
                    case .applied(let trackerID, let large, let stream, let results, let nanoseconds):
                        applying -= 1
                        if large { applyingLarge -= 1 }
                        if stream { streaming -= 1 }
                        // (A peer's batch is one exchange, not a round trip per call: its listings tell its latency.)
                        if !large && mode == .apply && !results.isEmpty && !batching {
                            // Writes count too: a destination that is slow to write (a far NFS
                            // server) while its folders list quickly (new ones: nothing to list)
                            // still gets more in flight.
                            latency.add(nanoseconds: nanoseconds, requests: results.count * Self.requestsPerWrite)
                        }
                        engine.record(results, into: &outcome.summary, notify: false)
                        finishedWork = trackerID
                    case .finishedDirectories:
                        break
                    }
                    if let finishedWork {
                        let completed = tracker.finishWork(finishedWork)
                        // After a stop, work that returned may have been cut short.
                        if mode == .apply && !engine.stopSignal.isStopped { unfinished += completed }
                    }
                }
            }
            precondition(rootListed || engine.stopSignal.isStopped, "the pass ended without listing the root")
            let peer = peerExchangeMicros(engine.source, engine.destination)
            // The deletes wait on a peer's round trips as the walk did, though a peer's listings
            // look fast per entry.
            outcome.microsPerRequest = latency.microsPerRequest(peerExchangeMicros: peer)
            engine.logger.debug(
                "pass finished",
                metadata: [
                    "mode": "\(mode)", "micros_per_request": "\(latency.microsPerRequest.map { String(Int($0)) } ?? "-")",
                    "peer_exchange_micros": "\(peer.map { String(Int($0)) } ?? "-")",
                ])
            return outcome
        }

        private func absorb(
            _ listed: ListingOutcome,
            of job: DirectoryJob,
            tracker: inout DirectoryTracker,
            directories: inout [DirectoryJob],
            batches: inout Deque<(trackerID: Int, operations: [PlannedOperation], bytes: Int64)>,
            into outcome: inout PassOutcome
        ) {
            engine.record(listed.results, into: &outcome.summary, notify: true)
            outcome.summary.skipped += listed.skipped
            outcome.summary.excluded += listed.excluded
            for (path, rule) in listed.exclusions {
                engine.observer.skipped(path, reason: .excluded)
                engine.logger.debug("excluded", metadata: ["path": "\(path)", "rule": "\(rule.text)", "from": "\(rule.origin)"])
            }
            for (path, reason) in listed.notableSkips { engine.observer.skipped(path, reason: reason) }
            outcome.sourceWalkFailed = outcome.sourceWalkFailed || listed.sourceFailed
            outcome.destinationFiles += listed.destinationFiles
            outcome.temporaryFilesRemoved += listed.temporaryFilesRemoved
            if !listed.deletes.isEmpty {
                outcome.plannedFileDeletes += listed.deletes.lazy.filter { $0.destination?.kind != .directory }.count
                outcome.deletes.append(contentsOf: listed.deletes)
                if job.descend == .both, let entry = job.source { outcome.deleteParents.append((job.path, entry)) }
            }
            if listed.changed || !listed.operations.isEmpty || job.descend == .sourceOnly {
                tracker.markChanged(job.trackerID)
            }
            // Later subdirectories are pushed first so the stack lists them in name order.
            for subdirectory in listed.subdirectories.reversed() {
                let id = tracker.add(path: subdirectory.path, parent: job.trackerID, sourceEntry: subdirectory.source)
                directories.append(DirectoryJob(path: subdirectory.path, descend: subdirectory.descend, trackerID: id, source: subdirectory.source))
            }
            var plannedBytes: Int64 = 0
            if mode != .survey {
                var operations = listed.operations
                if !engine.configuration.publication.isEmpty {
                    let publication = engine.configuration.publication
                    outcome.held += operations.filter { publication.stage(of: $0.path) != .normal }
                    operations.removeAll { publication.stage(of: $0.path) != .normal }
                }
                for batch in OperationBatches.split(operations, bytes: { $0.bytesToCopy }) {
                    batches.append((job.trackerID, batch.items, batch.bytes))
                    tracker.addWork(job.trackerID, count: 1)
                    plannedBytes += batch.bytes
                }
            }
            let planned = listed.operations.count + listed.deletes.count + listed.results.count
            engine.progress.update {
                $0.scanned += listed.sourceEntries + listed.destinationEntries
                $0.planned += planned
                $0.plannedBytes += plannedBytes
            }
        }
    }

    /// Sets permissions and mtime of directories whose content is complete. Runs on the I/O pool.
    ///
    /// Done even after a stop: only folders whose work all ended before the stop are handed
    /// here (a batch cut short by the stop may have left files out, and a read-only folder's
    /// permissions set early would keep the next run from adding them), and a folder left with
    /// the permissions it was made with would keep them until its content changes again.
    func finishDirectories(_ completed: [FinishedDirectory]) {
        let directories = completed.filter { !$0.path.isRoot }
        for (directory, failure) in zip(directories, destination.finishDirectories(directories)) {
            if let failure {
                logger.warning("could not set directory attributes", metadata: ["path": "\(directory.path)", "error": "\(failure)"])
            }
        }
    }
}

/// The root of a tree could not be listed: the run cannot start.
public struct RootUnavailable: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
