import SyncCore
import SyncTrees

extension SyncEngine {
    /// Applies a batch of file and symlink operations of one directory. Runs on the I/O pool.
    /// Stops early when the stop signal is set; operations not started are left for the next run.
    ///
    /// With `--delay-updates` (unless `staging` is false) copies are staged, not reported: they
    /// are reported when ``publishStaged()`` renames them into place.
    func apply(_ batch: [PlannedOperation], mode: Mode, staging: Bool = true) -> [OperationResult] {
        var results: [OperationResult] = []
        results.reserveCapacity(batch.count)
        let stage = staging && mode == .apply && configuration.delayUpdates
        // A tree across a network gets the batch's file copies in one exchange; staged copies
        // take the same path, which holds their results back.
        let batching = mode == .apply && (source.batchesTransfers || destination.batchesTransfers || stage)
        var deferred: [DeferredCopy] = []
        let digests = batchedDigests(batch)
        for planned in batch {
            if stopSignal.isStopped { break }
            var kept: OperationResult?
            let deferredBefore = deferred.count
            let result = applyOne(
                planned, mode: mode, kept: &kept, deferring: batching, deferred: &deferred, digests: digests[planned.path])
            // Reported at once, not when the batch returns: the opslog must hold every
            // finished operation even if the process is killed a moment later.
            if let kept, result != nil || deferred.count > deferredBefore {
                observer.operationFinished(kept)
                results.append(kept)
            }
            if let result {
                observer.operationFinished(result)
                results.append(result)
            }
        }
        if !deferred.isEmpty { copyDeferred(deferred, stage: stage, into: &results) }
        return results
    }

    /// The digests a batch's comparisons of small files need, asked for together when a side
    /// is across a network: one exchange per side instead of one per file. Large files are
    /// read side by side on their own (``PairedDigests``).
    private func batchedDigests(_ batch: [PlannedOperation]) -> [RelativePath: (Result<String, any Error>, Result<String, any Error>)] {
        guard source.batchesTransfers || destination.batchesTransfers else { return [:] }
        var found: [RelativePath: (Result<String, any Error>, Result<String, any Error>)] = [:]
        for side in [Side.a, Side.b] {
            let paths = batch.filter { planned in
                planned.side == side && planned.action == .compareContent && (planned.source?.size ?? 0) < PairedDigests.overlapFrom
            }.map(\.path)
            guard paths.count > 1 else { continue }
            for (path, digests) in zip(paths, PairedDigests.md5s(of: paths, tree(side.other), tree(side))) {
                found[path] = digests
            }
        }
        return found
    }

    /// A copy set aside for a batched transfer, with its result so far.
    struct DeferredCopy {
        var planned: PlannedOperation
        var result: OperationResult
        /// The file the copy replaces, to keep as a version first (with `--versions`).
        var replacing: Entry? = nil
    }

    /// Keeps, in as few exchanges as the tree allows, the versions of the files `copies`
    /// replace on `side`; returns the copies that may go ahead. A copy whose version could not
    /// be kept fails and replaces nothing.
    private func keepVersions(of copies: [DeferredCopy], on side: Side, settings: VersionSettings, into results: inout [OperationResult])
        -> [DeferredCopy]
    {
        let replacing = copies.indices.filter { copies[$0].replacing != nil }
        guard !replacing.isEmpty else { return copies }
        let outcomes = VersionStore(settings: settings).record(
            keeping: replacing.map { (copies[$0].planned.path, copies[$0].replacing!) }, on: tree(side), side: nil, moving: false)
        var refused = Set<Int>()
        for (index, outcome) in zip(replacing, outcomes) {
            switch outcome {
            case .success(let (kept, _)):
                observer.operationFinished(kept)
                results.append(kept)
            case .failure(let error):
                refused.insert(index)
                var result = copies[index].result
                result.status = .failed
                result.errorMessage = "\(error)"
                result.endedAt = Timestamp.now()
                observer.operationFinished(result)
                results.append(result)
            }
        }
        return copies.indices.filter { !refused.contains($0) }.map { copies[$0] }
    }

    /// Carries out the set-aside copies, side by side: the origin prefetches the files, the
    /// target receives them in one exchange, and each result is reported as it arrives.
    private func copyDeferred(_ copies: [DeferredCopy], stage: Bool, into results: inout [OperationResult]) {
        var options = configuration.copyOptions
        options.stageOnly = stage
        for side in [Side.a, Side.b] {
            var group = copies.filter { $0.planned.side == side }
            if let versions = configuration.versions { group = keepVersions(of: group, on: side, settings: versions, into: &results) }
            guard !group.isEmpty else { continue }
            let target = tree(side)
            let origin = tree(side.other)
            origin.prefetch(group.map { ($0.planned.path, $0.planned.source?.size ?? 0) })
            let files = group.map { copy in
                IncomingFile(path: copy.planned.path, open: { try openUnchanged(copy.planned, from: origin) })
            }
            target.receiveFiles(files, options: options, shouldStop: { [stopSignal] in stopSignal.isStopped }) { index, outcome in
                var result = group[index].result
                switch outcome {
                case .success(let report):
                    result.bytesTransferred = report.bytesCopied
                    result.sizeAfter = report.size
                    if let digest = report.md5 { result.md5After = digest }
                    if let name = report.stagedName {
                        staged.add(StagedCopies.Copy(planned: group[index].planned, result: result, temporaryName: name))
                        return
                    }
                case .failure(let error as SyncTreeError) where error.code == .interrupted:
                    return
                case .failure(let error as SyncTreeError) where error.code == .notFound && error.operation == SyncTreeError.openSource:
                    result = vanished(group[index].planned, started: result.startedAt)
                case .failure(let error as SyncTreeError) where error.code == .sourceChanged:
                    result = changing(group[index].planned, started: result.startedAt, error: error)
                case .failure(let error):
                    result.status = .failed
                    result.errorMessage = "\(error)"
                }
                result.endedAt = Timestamp.now()
                observer.operationFinished(result)
                results.append(result)
            }
        }
    }

    /// Carries out (or in a dry run, resolves) one operation. `nil` when it was abandoned by a stop.
    /// With `deferring`, a file copy is set aside in `deferred` (and `nil` returned) for a batched transfer.
    func applyOne(
        _ planned: PlannedOperation, mode: Mode, kept: inout OperationResult?, deferring: Bool, deferred: inout [DeferredCopy],
        digests: (Result<String, any Error>, Result<String, any Error>)? = nil
    ) -> OperationResult? {
        let started = Timestamp.now()
        let sourceEntry = planned.source
        var result = OperationResult(
            path: planned.path, action: planned.action, kind: planned.kind,
            sizeBefore: planned.destination?.size, sizeAfter: sourceEntry?.size,
            startedAt: started, endedAt: started)
        do {
            var action = planned.action
            // The side changed, and the side its content comes from.
            let target = tree(planned.side)
            let origin = tree(planned.side.other)
            if action == .compareContent {
                let (sourceResult, destinationResult) =
                    digests ?? PairedDigests.digests(of: planned.path, origin, target, size: sourceEntry?.size ?? 0)
                let sourceDigest: String
                do {
                    sourceDigest = try sourceResult.get()
                } catch let error as SyncTreeError where error.code == .notFound {
                    return vanished(planned, started: started)
                }
                let destinationDigest = try destinationResult.get()
                action = configuration.reconciler.resolveComparison(sameContent: sourceDigest == destinationDigest)
                result.action = action
                result.md5Before = PairedDigests.recorded(destinationDigest)
                result.md5After = PairedDigests.recorded(sourceDigest)
            }
            // What a sync replaces or deletes goes to the version store first.
            if let versions = configuration.versions, let existing = planned.destination, existing.kind != .directory,
                action == .delete || action.isReplace
            {
                if deferring && action != .delete && existing.kind == .file && sourceEntry?.kind == .file {
                    // Kept with the batch's other versions, in one exchange (``keepVersions(of:on:settings:into:)``).
                    result.action = action
                    deferred.append(DeferredCopy(planned: planned, result: result, replacing: existing))
                    return nil
                }
                kept = try keepVersion(planned.path, existing, on: planned.side, moving: action == .delete, settings: versions, mode: mode)
                if action == .delete {
                    result.endedAt = Timestamp.now()
                    return result  // the move into the store was the delete
                }
            }
            if mode == .apply {
                switch action {
                case .setModificationTime:
                    try target.setModificationTime(planned.path, to: sourceEntry!.modified)
                case .create, .update:
                    if sourceEntry?.kind == .symlink {
                        try target.makeSymlink(planned.path, target: sourceEntry!.symlinkTarget ?? [], modified: sourceEntry!.modified)
                    } else if deferring {
                        deferred.append(DeferredCopy(planned: planned, result: result))
                        return nil
                    } else {
                        let reader = try openUnchanged(planned, from: origin)
                        let report = try target.receiveFile(
                            planned.path, from: reader, options: configuration.copyOptions,
                            shouldStop: { [stopSignal] in stopSignal.isStopped })
                        result.bytesTransferred = report.bytesCopied
                        result.sizeAfter = report.size
                        if let digest = report.md5 { result.md5After = digest }
                    }
                case .delete:
                    try target.remove(planned.path, kind: planned.destination?.kind ?? .file)
                case .skip, .compareContent, .keepVersion, .prune:
                    break
                }
            }
        } catch let error as SyncTreeError where error.code == .interrupted {
            return nil
        } catch let error as SyncTreeError where error.code == .notFound && error.operation == SyncTreeError.openSource {
            return vanished(planned, started: started)
        } catch let error as SyncTreeError where error.code == .sourceChanged {
            return changing(planned, started: started, error: error)
        } catch {
            result.status = .failed
            result.errorMessage = "\(error)"
        }
        result.endedAt = Timestamp.now()
        return result
    }

    /// Keeps the destination's entry as a version (a hard link before a replace, a move for a
    /// delete); in a dry run, only says where it would go. Returns the version's record.
    func keepVersion(_ path: RelativePath, _ existing: Entry, on side: Side, moving: Bool, settings: VersionSettings, mode: Mode) throws
        -> OperationResult
    {
        try VersionStore(settings: settings).record(keeping: path, existing, on: tree(side), side: nil, moving: moving, dryRun: mode != .apply)
    }

    /// Opens the source of a copy, refusing a file that changed since it was listed: it is
    /// being written, and a later run copies it once it is complete.
    func openUnchanged(_ planned: PlannedOperation, from origin: any SyncTree) throws -> any FileReader {
        let reader = try origin.openFile(planned.path)
        if let listed = planned.source, listed.kind == .file,
            reader.attributes.size != listed.size || reader.attributes.modified != listed.modified
        {
            throw SyncTreeError(code: .sourceChanged, operation: "copy", path: planned.path, detail: "changed since it was listed")
        }
        return reader
    }

    /// A source file that changed during the copy: left for a later run, not a failure.
    private func changing(_ planned: PlannedOperation, started: Timestamp, error: SyncTreeError) -> OperationResult {
        logger.info(
            "skipped: still being written on the source; a later run copies it",
            metadata: ["path": "\(planned.path)", "detail": "\(error.detail ?? "")"])
        return OperationResult(
            path: planned.path, action: .skip(.changedDuringRun), kind: planned.kind, startedAt: started, endedAt: Timestamp.now())
    }

    private func vanished(_ planned: PlannedOperation, started: Timestamp) -> OperationResult {
        logger.info("skipped: vanished from the source during the run", metadata: ["path": "\(planned.path)"])
        return OperationResult(path: planned.path, action: .skip(.vanished), kind: planned.kind, startedAt: started, endedAt: Timestamp.now())
    }

    /// The last phase: deletes, after every copy, files first, then directories deepest first.
    func runDeletes(_ outcome: PassOutcome, mode: Mode, pool: NIOThreadPoolBox, report: inout SyncReport) async throws {
        if outcome.sourceWalkFailed {
            report.deletesWithheld = outcome.deletes.count
            report.summary.skipped += outcome.deletes.count
            logger.warning(
                "deletes withheld: part of the source could not be listed, so a missing file may only be unreadable",
                metadata: ["deletes": "\(outcome.deletes.count)"])
            return
        }
        // Check the guard again with what the real pass found: the trees may have changed since the survey.
        let fileDeletes = outcome.deletes.lazy.filter { $0.destination?.kind != .directory }.count
        let verdict = configuration.deleteGuard.check(
            sourceRootEntries: outcome.sourceRootEntries, destinationRootEntries: outcome.destinationRootEntries,
            plannedFileDeletes: fileDeletes, destinationFiles: outcome.destinationFiles)
        if verdict != .allow {
            report.refusal = verdict
            return
        }

        var files = outcome.deletes.filter { $0.destination?.kind != .directory }
        let publication = configuration.publication
        if !publication.isEmpty {
            // A file that announces others goes first, so no reader finds an announcement
            // whose data is already gone.
            let announcing = files.filter { publication.announces($0.path) }
            if !announcing.isEmpty {
                files.removeAll { publication.announces($0.path) }
                let results = try await pool.run { self.apply(announcing, mode: mode) }
                record(results, into: &report.summary, notify: false)
            }
        }
        // Listings record a directory before its content, so the reverse is deepest first.
        let directories = outcome.deletes.filter { $0.destination?.kind == .directory }.reversed()
        // Deletes are metadata: as many in flight as the walk found worth it, in batches small
        // enough to spread over them.
        let (inFlight, remote) = configuration.metadataConcurrency.afterWalk(
            observedMicrosPerRequest: outcome.microsPerRequest, peer: destination.batchesTransfers)
        let batchSize = max(16, min(256, files.count / inFlight + 1))
        let batches = stride(from: 0, to: files.count, by: batchSize).map { Array(files[$0..<min($0 + batchSize, files.count)]) }
        try await withThrowingTaskGroup(of: [OperationResult].self) { group in
            var next = 0
            func spawn() {
                let batch = batches[next]
                next += 1
                group.addTask { try await pool.run(wide: remote) { self.apply(batch, mode: mode) } }
            }
            while next < batches.count && next < inFlight { spawn() }
            while let results = try await group.next() {
                record(results, into: &report.summary, notify: false)
                if next < batches.count && !stopSignal.isStopped { spawn() }
            }
        }
        let directoryList = Array(directories)
        let directoryResults = try await pool.run { self.apply(directoryList, mode: mode) }
        record(directoryResults, into: &report.summary, notify: false)

        // Deleting changed the parents' mtimes: put back the source's.
        if mode == .apply {
            let parents = outcome.deleteParents
            let chunk = max(8, parents.count / inFlight + 1)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for start in stride(from: 0, to: parents.count, by: chunk) {
                    let part = parents[start..<min(start + chunk, parents.count)]
                    group.addTask {
                        try await pool.run(wide: remote) {
                            for (path, entry) in part {
                                do {
                                    try destination.finishDirectory(path, permissions: entry.permissions, modified: entry.modified)
                                } catch {
                                    logger.debug(
                                        "could not restore directory mtime after deletes", metadata: ["path": "\(path)", "error": "\(error)"])
                                }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    /// Counts results in the summary and the progress; `notify` also reports them to the
    /// observer (results of ``apply(_:mode:)`` were reported as they finished).
    func record(_ results: [OperationResult], into summary: inout SyncSummary, notify: Bool) {
        for result in results {
            summary.record(result)
            if notify { observer.operationFinished(result) }
        }
        progress.count(results)
    }
}
