import SyncCore
import SyncTrees

/// A directory pair to list and merge.
struct DirectoryJob: Sendable {
    var path: RelativePath
    var descend: Descend
    var trackerID: Int
    /// The source's entry for this directory (nil for the root and for destination-only directories).
    var source: Entry?
}

/// What listing one directory pair produced.
struct ListingOutcome: Sendable {
    /// File and symlink operations to apply, in name order.
    var operations: [PlannedOperation] = []
    /// Results already final: directories created while listing, paths that failed.
    var results: [OperationResult] = []
    var subdirectories: [(path: RelativePath, descend: Descend, source: Entry?)] = []
    /// Deletes, carried out after every copy.
    var deletes: [PlannedOperation] = []
    var skipped = 0
    var notableSkips: [(RelativePath, SkipReason)] = []
    var sourceFailed = false
    var sourceEntries = 0
    var destinationEntries = 0
    var destinationFiles = 0
    var temporaryFilesRemoved = 0
    /// Entries a filter excluded, with the rule (reported with --verbose).
    var excluded = 0
    var exclusions: [(RelativePath, FilterRule)] = []
    /// Whether this pass changed (or would change) something directly in this directory.
    var changed = false
    /// How long listing both sides took, for the latency estimate.
    var listingNanoseconds: Int64 = 0
    /// Whether the two sides were listed at the same time.
    var sidesOverlapped = false
}

extension SyncEngine {
    /// What listing one side of a directory gave.
    enum SideListing: Sendable {
        /// The job does not descend into this side (it is being created or deleted).
        case notListed
        case listed(DirectoryListing)
        /// Removed since its parent was listed.
        case vanished
        case failed(any Error)
    }

    /// Lists one side of a directory. Runs on the I/O pool; the two sides of a job are listed
    /// at the same time, since on a network each side's requests wait on their own server.
    func listSide(_ job: DirectoryJob, _ side: Side, mode: Mode) -> SideListing {
        let wanted = side == .a ? (job.descend == .both || job.descend == .sourceOnly) : (job.descend == .both || job.descend == .destinationOnly)
        guard wanted else { return .notListed }
        do {
            // The survey only counts entries and deletes: kinds are enough.
            return .listed(mode == .survey ? try tree(side).listKinds(job.path) : try tree(side).list(job.path))
        } catch let error as SyncTreeError where error.code == .notFound && !job.path.isRoot && side == .a {
            return .vanished
        } catch {
            return .failed(error)
        }
    }

    /// Lists both sides of one directory, one after the other, and decides every name in it.
    /// Runs on the I/O pool.
    func listAndPlan(_ job: DirectoryJob, mode: Mode) -> ListingOutcome {
        let started = monotonicNanoseconds()
        let source = listSide(job, .a, mode: mode)
        let destination = listSide(job, .b, mode: mode)
        return plan(job, source: source, destination: destination, mode: mode, listingNanoseconds: monotonicNanoseconds() - started)
    }

    /// Decides every name of a directory from its two listings. Runs on the I/O pool.
    ///
    /// Directories that must exist before their content is copied are created here, so
    /// the subdirectory jobs this returns can start at once: all of a folder's new
    /// subfolders together, one exchange with a tree across a network rather than one each.
    func plan(_ job: DirectoryJob, source: SideListing, destination: SideListing, mode: Mode, listingNanoseconds: Int64) -> ListingOutcome {
        var outcome = ListingOutcome()
        var sourceEntries: [Entry] = []
        var destinationEntries: [Entry] = []

        switch source {
        case .notListed:
            break
        case .listed(let listing):
            sourceEntries = listing.entries
            for failure in listing.failures {
                outcome.results.append(failed(failure.path ?? job.path, kind: .file, error: failure))
                outcome.sourceFailed = true
            }
        case .vanished:
            // Removed since its parent was listed: nothing to sync below it this time.
            logger.info("skipped: directory vanished from the source during the run", metadata: ["path": "\(job.path)"])
            return outcome
        case .failed(let error):
            outcome.results.append(failed(job.path, kind: .directory, error: error))
            outcome.sourceFailed = true
            return outcome
        }
        // A directory the source is creating has nothing on the destination yet (in a dry
        // run it does not even exist there).
        switch destination {
        case .notListed, .vanished:
            break
        case .listed(let listing):
            destinationEntries = listing.entries
            for failure in listing.failures {
                outcome.results.append(failed(failure.path ?? job.path, kind: .file, error: failure))
            }
            if mode == .apply {
                for name in listing.temporaryFiles {
                    do {
                        try self.destination.removeTemporaryFile(named: name, in: job.path)
                        outcome.temporaryFilesRemoved += 1
                    } catch {
                        logger.warning(
                            "could not remove a stale temporary file", metadata: ["path": "\(job.path.appending(name))", "error": "\(error)"])
                    }
                }
            }
        case .failed(let error):
            outcome.results.append(failed(job.path, kind: .directory, error: error))
            return outcome
        }
        if job.path.isRoot {
            // The version stores are never synced, counted or deleted.
            sourceEntries.removeAll { $0.name == VersionName.folder }
            destinationEntries.removeAll { $0.name == VersionName.folder }
        }
        outcome.listingNanoseconds = listingNanoseconds
        outcome.sourceEntries = sourceEntries.count
        outcome.destinationEntries = destinationEntries.count
        outcome.destinationFiles = destinationEntries.lazy.filter { $0.kind != .directory }.count

        let reconciler = configuration.reconciler
        // What depends on this folder's path is decided once; each name then costs a comparison per rule.
        let filters = configuration.filters.isEmpty ? nil : configuration.filters.inFolder(job.path)
        // New subfolders, with where each goes among the subdirectories (name order).
        var newDirectories: [(position: Int, planned: PlannedOperation)] = []
        DirectoryMerge.merge(source: sourceEntries, destination: destinationEntries) { sourceEntry, destinationEntry in
            if let filters {
                let name = sourceEntry?.name ?? destinationEntry!.name
                let isDirectory = sourceEntry?.kind == .directory || destinationEntry?.kind == .directory
                if let rule = filters.excludingRule(name: name, isDirectory: isDirectory) {
                    // Never copied, deleted, counted by the guards, or looked into.
                    outcome.excluded += 1
                    if mode != .survey { outcome.exclusions.append((job.path.appending(name), rule)) }
                    if destinationEntry != nil && destinationEntry?.kind != .directory { outcome.destinationFiles -= 1 }
                    return
                }
            }
            let verdict = reconciler.reconcile(PathState(a: sourceEntry, b: destinationEntry))
            // The common case of a quiet run: nothing to build, not even the path.
            if verdict.action == .skip(.inSync) {
                outcome.skipped += 1
                return
            }
            let path = job.path.appending(sourceEntry?.name ?? destinationEntry!.name)
            switch verdict.action {
            case .keepVersion, .prune:
                break  // never a reconciler's verdict
            case .skip(let reason):
                outcome.skipped += 1
                if reason != .bothDirectories { outcome.notableSkips.append((path, reason)) }
                if verdict.descend == .both { outcome.subdirectories.append((path, .both, sourceEntry)) }
            case .delete:
                outcome.deletes.append(PlannedOperation(path: path, action: .delete, source: nil, destination: destinationEntry, side: verdict.side))
                if verdict.descend == .destinationOnly { outcome.subdirectories.append((path, .destinationOnly, nil)) }
            case .create where sourceEntry?.kind == .directory, .update where sourceEntry?.kind == .directory:
                outcome.changed = true
                guard mode != .survey, !stopSignal.isStopped else { return }
                let planned = PlannedOperation(
                    path: path, action: verdict.action, source: sourceEntry, destination: destinationEntry, side: verdict.side)
                newDirectories.append((outcome.subdirectories.count, planned))
            case .create, .update, .compareContent, .setModificationTime:
                if let cutoff = configuration.minAgeCutoff, let sourceEntry, sourceEntry.kind == .file, sourceEntry.modified > cutoff {
                    // Perhaps still being written: a later run copies it once it has settled.
                    let now = Timestamp.now()
                    outcome.results.append(
                        OperationResult(path: path, action: .skip(.tooYoung), kind: .file, startedAt: now, endedAt: now))
                    return
                }
                outcome.operations.append(
                    PlannedOperation(path: path, action: verdict.action, source: sourceEntry, destination: destinationEntry, side: verdict.side))
            }
        }
        let made = makeDirectories(newDirectories.map(\.planned), mode: mode, results: &outcome.results)
        // Inserted from the last, so the positions of those before stay right.
        for ((position, planned), result) in zip(newDirectories, made).reversed() {
            if result.status == .success { outcome.subdirectories.insert((planned.path, .sourceOnly, planned.source), at: position) }
        }
        outcome.results += made
        return outcome
    }

    /// Creates new directories (a file or link each replaces goes to the version store first),
    /// each side's in one call; returns one result per directory, in order.
    private func makeDirectories(_ directories: [PlannedOperation], mode: Mode, results: inout [OperationResult]) -> [OperationResult] {
        guard !directories.isEmpty else { return [] }
        let started = Timestamp.now()
        var made: [OperationResult] = []
        var requests: [(index: Int, side: Side, directory: NewDirectory)] = []
        for planned in directories {
            var result = OperationResult(
                path: planned.path, action: planned.action, kind: .directory,
                sizeBefore: planned.destination?.size, startedAt: started, endedAt: started)
            var replacing = planned.destination?.kind
            if let versions = configuration.versions, let existing = planned.destination, existing.kind != .directory, mode != .survey {
                // The file or link the new folder replaces goes to the version store first.
                do {
                    results.append(try keepVersion(planned.path, existing, on: planned.side, moving: true, settings: versions, mode: mode))
                    replacing = nil
                } catch {
                    result.status = .failed
                    result.errorMessage = "\(error)"
                }
            }
            if mode == .apply && result.status == .success {
                requests.append((made.count, planned.side, NewDirectory(path: planned.path, replacing: replacing)))
            }
            made.append(result)
        }
        for side in [Side.a, Side.b] {
            let mine = requests.filter { $0.side == side }
            guard !mine.isEmpty else { continue }
            let failures = tree(side).makeDirectories(mine.map(\.directory))
            let ended = Timestamp.now()
            for (request, failure) in zip(mine, failures) {
                made[request.index].endedAt = ended
                if let failure {
                    made[request.index].status = .failed
                    made[request.index].errorMessage = "\(failure)"
                }
            }
        }
        return made
    }

    func failed(_ path: RelativePath, kind: EntryKind, error: any Error) -> OperationResult {
        let now = Timestamp.now()
        return OperationResult(
            path: path, action: .skip(.inSync), kind: kind, startedAt: now, endedAt: now, status: .failed, errorMessage: "\(error)")
    }
}
