import SyncCore
import SyncTrees

extension BidirectionalEngine {
    /// Applies (or in a dry run, resolves) a batch of one folder's operations. Runs on the I/O
    /// pool. Returns the results and the archive updates of what really happened.
    func apply(_ batch: [BidirectionalOperation], mode: WalkMode) -> ([OperationResult], [ArchiveUpdate]) {
        var results: [OperationResult] = []
        var updates: [ArchiveUpdate] = []
        // Files for a side across a network travel together (see ``copyTogether``).
        let together = mode == .apply && (a.batchesTransfers || b.batchesTransfers)
        var copies: [BatchedCopy] = []
        var deletes: [BidirectionalOperation] = []
        let digests = together ? batchedDigests(batch) : [:]
        for operation in batch {
            if stopSignal.isStopped { break }
            if together, let copy = BatchedCopy(operation, digests: digests[operation.path]) {
                copies.append(copy)
                continue
            }
            if deletesTogether(operation, mode: mode) {
                deletes.append(operation)
                continue
            }
            let produced = applyOne(operation, mode: mode, updates: &updates, digests: digests[operation.path])
            for result in produced {
                // Reported at once: the opslog must hold every finished operation even if the
                // process is killed a moment later.
                observer.operationFinished(result)
            }
            results += produced
        }
        if !copies.isEmpty { copyTogether(copies, results: &results, updates: &updates) }
        if !deletes.isEmpty { deleteTogether(deletes, results: &results, updates: &updates) }
        return (results, updates)
    }

    /// `digests`: the origin's and the target's MD5 of a comparison, when read ahead.
    func applyOne(
        _ operation: BidirectionalOperation, mode: WalkMode, updates: inout [ArchiveUpdate],
        digests: (Result<String, any Error>, Result<String, any Error>)? = nil
    ) -> [OperationResult] {
        let started = Timestamp.now()
        switch operation.decision {
        case .copy(let target):
            var kept: [OperationResult] = []
            let result = copy(
                operation, to: target, reason: operation.archived == nil ? nil : .changedOnOtherSide, mode: mode, updates: &updates, kept: &kept)
            return kept + [result]
        case .compareThenCopy(let target):
            let origin = target.other
            do {
                let digests =
                    digests ?? PairedDigests.digests(of: operation.path, tree(origin), tree(target), size: operation.entry(origin)?.size ?? 0)
                let (originDigest, targetDigest) = try (digests.0.get(), digests.1.get())
                guard originDigest == targetDigest else {
                    var kept: [OperationResult] = []
                    var result = copy(operation, to: target, reason: .contentDiffers, mode: mode, updates: &updates, kept: &kept)
                    result.md5Before = PairedDigests.recorded(targetDigest)
                    if result.md5After == nil { result.md5After = PairedDigests.recorded(originDigest) }
                    return kept + [result]
                }
                // Same bytes: only the mtime moved (a touch, or a restore of the same content).
                let source = operation.entry(origin)!
                var result = OperationResult(
                    path: operation.path, action: .setModificationTime, kind: .file, sizeBefore: source.size, sizeAfter: source.size,
                    md5Before: PairedDigests.recorded(targetDigest), md5After: PairedDigests.recorded(originDigest), startedAt: started,
                    endedAt: started, side: target)
                if mode == .apply {
                    try checkUnchanged(operation, on: target)
                    try tree(target).setModificationTime(operation.path, to: source.modified)
                    updates.append(.put(operation.path, source))
                }
                result.endedAt = Timestamp.now()
                return [result]
            } catch {
                return [failure(operation, error, side: target, started: started)]
            }
        case .compareBoth(let newer):
            do {
                let digests = PairedDigests.digests(of: operation.path, a, b, size: operation.a?.size ?? 0)
                let (aDigest, bDigest) = try (digests.0.get(), digests.1.get())
                guard aDigest == bDigest else {
                    let recorded = (PairedDigests.recorded(aDigest), PairedDigests.recorded(bDigest))
                    return conflict(operation, winner: newer ?? .a, digests: recorded, mode: mode, updates: &updates)
                }
                // Created or changed the same way on both sides: settle the mtime on the newer one.
                let winner = newer ?? .a
                let kept = operation.entry(winner)!
                let older = operation.entry(winner.other)!
                guard kept.modified != older.modified else {
                    if mode == .apply { updates.append(.put(operation.path, kept)) }
                    return []
                }
                var result = OperationResult(
                    path: operation.path, action: .setModificationTime, kind: .file, sizeBefore: older.size, sizeAfter: kept.size,
                    md5Before: PairedDigests.recorded(aDigest), md5After: PairedDigests.recorded(bDigest), startedAt: started, endedAt: started,
                    side: winner.other)
                if mode == .apply {
                    try checkUnchanged(operation, on: winner.other)
                    try tree(winner.other).setModificationTime(operation.path, to: kept.modified)
                    updates.append(.put(operation.path, kept))
                }
                result.endedAt = Timestamp.now()
                return [result]
            } catch {
                return [failure(operation, error, side: nil, started: started)]
            }
        case .conflict(let winner, _):
            var digests: (String?, String?) = (nil, nil)
            if operation.a?.kind == .file && operation.b?.kind == .file {
                let read = PairedDigests.digests(of: operation.path, a, b, size: operation.a?.size ?? 0)
                digests = (PairedDigests.recorded(try? read.0.get()), PairedDigests.recorded(try? read.1.get()))
            }
            return conflict(operation, winner: winner, digests: digests, mode: mode, updates: &updates)
        case .delete(let side):
            var result = OperationResult(
                path: operation.path, action: .delete, kind: operation.entry(side)?.kind ?? .file, sizeBefore: operation.entry(side)?.size,
                startedAt: started, endedAt: started, side: side)
            var kept: [OperationResult] = []
            if let versions = configuration.versions {
                // The delete is a move into the version store.
                do {
                    kept.append(try keepVersion(operation.path, operation.entry(side)!, on: side, moving: true, settings: versions, mode: mode))
                    if mode == .apply { updates.append(.remove(operation.path)) }
                    result.endedAt = Timestamp.now()
                    return kept + [result]
                } catch let error as SyncTreeError where error.code == .targetChanged {
                    result.action = .skip(.changedDuringRun)
                    return [result]
                } catch {
                    return [failure(operation, error, side: side, started: started)]
                }
            }
            guard mode == .apply else { return [result] }
            do {
                try checkUnchanged(operation, on: side)
                try tree(side).remove(operation.path, kind: operation.entry(side)!.kind)
                updates.append(.remove(operation.path))
            } catch let error as SyncTreeError where error.code == .targetChanged {
                result.action = .skip(.changedDuringRun)
            } catch let error as SyncTreeError where error.code == .notFound {
                updates.append(.remove(operation.path))  // already gone: the goal
            } catch {
                return [failure(operation, error, side: side, started: started)]
            }
            result.endedAt = Timestamp.now()
            return [result]
        case .directoryDeleted(let side):
            var result = OperationResult(
                path: operation.path, action: .delete, kind: .directory, startedAt: started, endedAt: started, side: side)
            guard mode == .apply else { return [result] }
            do {
                try tree(side).remove(operation.path, kind: .directory)
                updates.append(.removeTree(operation.path))
            } catch let error as SyncTreeError where error.code == .notEmpty {
                // Something in it survived (changed here, or new): the folder stays on both sides.
                result.action = .skip(.notEmpty)
            } catch let error as SyncTreeError where error.code == .notFound {
                updates.append(.removeTree(operation.path))
            } catch {
                return [failure(operation, error, side: side, started: started)]
            }
            result.endedAt = Timestamp.now()
            return [result]
        case .inSync, .forget, .bothDirectories, .skip:
            return []
        }
    }

    /// Copies the other side's entry onto `target`: a file through an atomic write that checks
    /// the target right before the rename, or a symlink.
    private func copy(
        _ operation: BidirectionalOperation, to target: Side, reason: UpdateReason?, mode: WalkMode, updates: inout [ArchiveUpdate],
        kept: inout [OperationResult]
    ) -> OperationResult {
        let started = Timestamp.now()
        let origin = target.other
        let source = operation.entry(origin)!
        var existing = operation.entry(target)
        var result = OperationResult(
            path: operation.path, action: existing == nil ? .create : .update(reason ?? .changedOnOtherSide), kind: source.kind,
            sizeBefore: existing?.size, sizeAfter: source.size, startedAt: started, endedAt: started, side: target)
        if let versions = configuration.versions, let replaced = existing {
            // What the copy replaces is kept first (a hard link: the name keeps its content until the write).
            do {
                kept.append(try keepVersion(operation.path, replaced, on: target, moving: false, settings: versions, mode: mode))
                // Where no link was possible the old file was moved: nothing is at the name now.
                if mode == .apply, try tree(target).entry(at: operation.path) == nil { existing = nil }
            } catch let error as SyncTreeError where error.code == .targetChanged {
                result.action = .skip(.changedDuringRun)
                return result
            } catch {
                return failure(operation, error, side: target, started: started)
            }
        }
        guard mode == .apply else { return result }
        writeCopy(operation, to: target, expecting: existing, result: &result, updates: &updates)
        return result
    }

    /// Writes the other side's entry onto `target`, where `existing` must still be (`nil`:
    /// nothing may be), and records the outcome in `result`.
    func writeCopy(
        _ operation: BidirectionalOperation, to target: Side, expecting existing: Entry?, result: inout OperationResult,
        updates: inout [ArchiveUpdate]
    ) {
        let origin = target.other
        do {
            let written = try write(operation.entry(origin)!, at: operation.path, from: origin, to: target, expecting: existing, result: &result)
            updates.append(.put(operation.path, written))
        } catch {
            recordFailure(of: operation, on: target, error, result: &result)
            return
        }
        result.endedAt = Timestamp.now()
    }

    /// Records in `result` why a copy onto `target` did not happen: a change during the run
    /// leaves the path alone for the next run, anything else is a failure.
    func recordFailure(of operation: BidirectionalOperation, on target: Side, _ error: any Error, result: inout OperationResult) {
        switch error {
        case let error as SyncTreeError where error.code == .targetChanged:
            logger.info("left alone: changed during the run", metadata: ["path": "\(operation.path)", "side": "\(tree(target).displayName)"])
            result.action = .skip(.changedDuringRun)
        case let error as SyncTreeError where error.code == .notFound && error.operation == SyncTreeError.openSource:
            result.action = .skip(.vanished)
        case let error as SyncTreeError where error.code == .sourceChanged:
            result.action = .skip(.changedDuringRun)
        default:
            result = failure(operation, error, side: target, started: result.startedAt)
            return
        }
        result.endedAt = Timestamp.now()
    }

    /// Writes `source` (read from `origin` at `sourcePath`) at `path` on `target`; returns the
    /// entry written. Creates missing parent folders (a folder deleted on the target side that
    /// keeps a changed file).
    private func write(
        _ source: Entry, at path: RelativePath, from origin: Side, to target: Side, expecting existing: Entry?,
        sourcePath: RelativePath? = nil, result: inout OperationResult
    ) throws -> Entry {
        let readPath = sourcePath ?? path
        do {
            return try writeOnce(source, at: path, readPath: readPath, from: origin, to: target, expecting: existing, result: &result)
        } catch let error as SyncTreeError where error.code == .notFound && error.operation != SyncTreeError.openSource {
            try makeParents(of: path, on: target, copying: origin)
            return try writeOnce(source, at: path, readPath: readPath, from: origin, to: target, expecting: existing, result: &result)
        }
    }

    private func writeOnce(
        _ source: Entry, at path: RelativePath, readPath: RelativePath, from origin: Side, to target: Side, expecting existing: Entry?,
        result: inout OperationResult
    ) throws -> Entry {
        var written = source
        written.name = path.lastComponent
        if source.kind == .symlink {
            guard ExpectedTarget(existing).matches(try tree(target).entry(at: path)) else {
                throw SyncTreeError(code: .targetChanged, operation: "replace symlink", path: path)
            }
            try tree(target).makeSymlink(path, target: source.symlinkTarget ?? [], modified: source.modified)
            return written
        }
        let reader = try tree(origin).openFile(readPath)
        var options = configuration.copyOptions
        options.expectedTarget = ExpectedTarget(existing)
        let report = try tree(target).receiveFile(path, from: reader, options: options, shouldStop: { [stopSignal] in stopSignal.isStopped })
        result.bytesTransferred += report.bytesCopied
        result.sizeAfter = report.size
        if let digest = report.md5 { result.md5After = digest }
        written.size = report.size
        written.modified = report.modified
        written.permissions = reader.attributes.permissions
        return written
    }

    /// Creates the missing folders above `path` on `side`, with the other side's permissions.
    private func makeParents(of path: RelativePath, on side: Side, copying origin: Side) throws {
        var missing: [RelativePath] = []
        var current = path.parent
        while !current.isRoot, try tree(side).entry(at: current) == nil {
            missing.append(current)
            current = current.parent
        }
        for folder in missing.reversed() {
            try tree(side).makeDirectory(folder, replacing: nil)
            if let model = try tree(origin).entry(at: folder) {
                try? tree(side).finishDirectory(folder, permissions: model.permissions, modified: model.modified)
            }
        }
    }

    /// A conflict: the winner's version keeps the name on both sides, the loser's is kept as a
    /// conflict copy on both sides. The loser's file is renamed (never rewritten) on its side.
    private func conflict(
        _ operation: BidirectionalOperation, winner: Side, digests: (String?, String?), mode: WalkMode, updates: inout [ArchiveUpdate]
    ) -> [OperationResult] {
        let started = Timestamp.now()
        let loser = winner.other
        let kept = operation.entry(winner)!
        let moved = operation.entry(loser)!
        let copyPath = operation.path.parent.appending(operation.conflictName!)
        let loserDigest = loser == .a ? digests.0 : digests.1
        let winnerDigest = winner == .a ? digests.0 : digests.1
        var record = OperationResult(
            path: operation.path, action: .update(.conflict), kind: kept.kind, sizeBefore: moved.size, sizeAfter: kept.size,
            md5Before: loserDigest, md5After: winnerDigest, startedAt: started, endedAt: started, side: loser, isConflict: true)
        var copyRecord = OperationResult(
            path: copyPath, action: .create, kind: moved.kind, sizeAfter: moved.size, md5After: loserDigest, startedAt: started,
            endedAt: started, side: winner)
        logger.notice(
            "conflict: changed on both sides; keeping both",
            metadata: [
                "path": "\(operation.path)", "kept": "\(tree(winner).displayName)", "copy": "\(copyPath)",
            ])
        guard mode == .apply else { return [record, copyRecord] }
        // 1. The loser's version steps aside on its own side (a rename: nothing is rewritten).
        do {
            try tree(loser).rename(operation.path, to: copyPath, expected: moved)
        } catch let error as SyncTreeError where error.code == .targetChanged || error.code == .notFound {
            record.action = .skip(.changedDuringRun)
            record.isConflict = false
            return [record]
        } catch {
            return [failure(operation, error, side: loser, started: started)]
        }
        var movedEntry = moved
        movedEntry.name = copyPath.lastComponent
        // 2. The winner's version takes the name there.
        do {
            let written = try write(kept, at: operation.path, from: winner, to: loser, expecting: nil, result: &record)
            updates.append(.put(operation.path, written))
        } catch {
            record.status = .failed
            record.errorMessage = (error as? SyncTreeError)?.message ?? "\(error)"
        }
        // 3. The loser's version is copied beside it on the winner's side.
        do {
            let written = try write(movedEntry, at: copyPath, from: loser, to: winner, expecting: nil, result: &copyRecord)
            updates.append(.put(copyPath, written))
        } catch {
            copyRecord.status = .failed
            copyRecord.errorMessage = (error as? SyncTreeError)?.message ?? "\(error)"
        }
        record.endedAt = Timestamp.now()
        copyRecord.endedAt = Timestamp.now()
        return [record, copyRecord]
    }

    /// Keeps `existing` (what `side` holds at `path`) in the side's version store; in a dry
    /// run, only says where it would go. Returns the version's record.
    func keepVersion(_ path: RelativePath, _ existing: Entry, on side: Side, moving: Bool, settings: VersionSettings, mode: WalkMode) throws
        -> OperationResult
    {
        try VersionStore(settings: settings).record(keeping: path, existing, on: tree(side), side: side, moving: moving, dryRun: mode != .apply)
    }

    /// Throws ``SyncTreeError/Code/targetChanged`` unless `side` still holds what was listed.
    private func checkUnchanged(_ operation: BidirectionalOperation, on side: Side) throws {
        let listed = operation.entry(side)
        guard ExpectedTarget(listed).matches(try tree(side).entry(at: operation.path)) else {
            throw SyncTreeError(code: .targetChanged, operation: "check", path: operation.path, detail: "changed since it was listed; left alone")
        }
    }

    func failure(_ operation: BidirectionalOperation, _ error: any Error, side: Side?, started: Timestamp) -> OperationResult {
        if let error = error as? SyncTreeError, error.code == .targetChanged {
            return OperationResult(
                path: operation.path, action: .skip(.changedDuringRun), kind: operation.a?.kind ?? operation.b?.kind ?? .file, startedAt: started,
                endedAt: Timestamp.now(), side: side)
        }
        return OperationResult(
            path: operation.path, action: .update(.changedOnOtherSide), kind: operation.a?.kind ?? operation.b?.kind ?? .file,
            startedAt: started, endedAt: Timestamp.now(), status: .failed, errorMessage: (error as? SyncTreeError)?.message ?? "\(error)",
            side: side)
    }

    /// The last phase: deletes on either side, after every copy; files first, then folders
    /// deepest first (a folder whose content survived stays).
    func runDeletes(_ outcome: BidirectionalOutcome, mode: WalkMode, pool: NIOThreadPoolBox, summary: inout SyncSummary) async throws {
        let (inFlight, _) = configuration.metadataConcurrency.afterWalk(
            observedMicrosPerRequest: outcome.microsPerRequest, peer: a.batchesTransfers || b.batchesTransfers)
        let files = outcome.deletes
        let batchSize = max(16, min(256, files.count / max(inFlight, 1) + 1))
        let batches = stride(from: 0, to: files.count, by: batchSize).map { Array(files[$0..<min($0 + batchSize, files.count)]) }
        try await applyBatches(batches, mode: mode, pool: pool, microsPerRequest: outcome.microsPerRequest, summary: &summary)
        guard !stopSignal.isStopped else { return }
        let folders = outcome.directoryDeletes.sorted { $0.path.depth > $1.path.depth }
        let (results, updates) = try await pool.run { self.apply(folders, mode: mode) }
        count(results.filter { $0.action != .skip(.notEmpty) }, into: &summary, notify: false)
        if mode == .apply && !updates.isEmpty { try await archive.record(updates) }
    }

    /// Sets the permissions and mtime of folders this run created, deepest first, now that
    /// their content is in.
    func finishCreatedDirectories(_ created: [(side: Side, path: RelativePath, entry: Entry)], pool: NIOThreadPoolBox) async {
        guard !created.isEmpty else { return }
        let ordered = created.sorted { $0.path.depth > $1.path.depth }
        _ = try? await pool.run {
            for folder in ordered {
                try? self.tree(folder.side).finishDirectory(folder.path, permissions: folder.entry.permissions, modified: folder.entry.modified)
            }
        }
    }
}

extension ExpectedTarget {
    /// What a write onto a side expects there: the entry listed, or nothing.
    init(_ listed: Entry?) {
        self = listed.map { .unchanged($0) } ?? .absent
    }
}

extension BidirectionalEngine {
    /// Applies what a `.plan` walk kept: folder creations first, in walk order (parents before
    /// children), then the rest in batches, as many in flight as the walk found worth it.
    func applyPending(_ pending: [BidirectionalOperation], mode: WalkMode, pool: NIOThreadPoolBox, outcome: inout BidirectionalOutcome) async throws {
        guard !pending.isEmpty else { return }
        let folders = pending.filter { $0.isFolderCreation }
        let rest = pending.filter { !$0.isFolderCreation }
        progress.update {
            $0.planned += pending.count
            $0.plannedBytes += rest.reduce(0) { $0 + $1.bytes }
        }
        if !folders.isEmpty {
            let (results, updates, created) = try await pool.run {
                () -> ([OperationResult], [ArchiveUpdate], [(side: Side, path: RelativePath, entry: Entry)]) in
                var plan = BidirectionalPlan()
                // Folders replacing a file or link one by one; then the new ones, all together
                // in walk order (a parent before its children), after what they may sit in.
                var newFolders: [(operation: BidirectionalOperation, target: Side, result: Int)] = []
                for operation in folders where !self.stopSignal.isStopped {
                    guard case .copy(let target) = operation.decision else { continue }
                    if mode == .apply && operation.entry(target) == nil {
                        newFolders.append((operation, target, plan.results.count))
                        plan.results.append(self.createDirectory(operation, on: target, mode: .dryRun, plan: &plan))
                    } else {
                        plan.results.append(self.createDirectory(operation, on: target, mode: mode, plan: &plan))
                    }
                }
                self.makeFolders(newFolders, plan: &plan)
                return (plan.results, plan.archiveUpdates, plan.createdDirectories)
            }
            count(results, into: &outcome.summary, notify: true)
            outcome.createdDirectories += created
            if mode == .apply && !updates.isEmpty { try await archive.record(updates) }
        }
        let batches = OperationBatches.split(rest) { $0.bytes }.map(\.items)
        try await applyBatches(batches, mode: mode, pool: pool, microsPerRequest: outcome.microsPerRequest, summary: &outcome.summary)
    }

    /// Applies batches on the I/O pool, as many in flight as the observed latency is worth,
    /// recording results and archive updates as each batch returns.
    private func applyBatches(
        _ batches: [[BidirectionalOperation]], mode: WalkMode, pool: NIOThreadPoolBox, microsPerRequest: Double?, summary: inout SyncSummary
    ) async throws {
        let (inFlight, remote) = configuration.metadataConcurrency.afterWalk(
            observedMicrosPerRequest: microsPerRequest, peer: a.batchesTransfers || b.batchesTransfers)
        try await withThrowingTaskGroup(of: ([OperationResult], [ArchiveUpdate]).self) { group in
            var next = 0
            func spawn() {
                let batch = batches[next]
                next += 1
                group.addTask { try await pool.run(wide: remote) { self.apply(batch, mode: mode) } }
            }
            while next < batches.count && next < inFlight { spawn() }
            while let (results, updates) = try await group.next() {
                count(results, into: &summary, notify: false)
                if mode == .apply && !updates.isEmpty { try await archive.record(updates) }
                if next < batches.count && !stopSignal.isStopped { spawn() }
            }
        }
    }

    /// Removes temporary files of killed runs that a `.plan` walk saw; returns how many.
    func removeTemporaryFiles(_ files: [(side: Side, directory: RelativePath, name: [UInt8])], pool: NIOThreadPoolBox) async -> Int {
        guard !files.isEmpty else { return 0 }
        return
            (try? await pool.run {
                files.reduce(0) { removed, file in
                    (try? self.tree(file.side).removeTemporaryFile(named: file.name, in: file.directory)) != nil ? removed + 1 : removed
                }
            }) ?? 0
    }
}

extension BidirectionalOperation {
    /// A folder to create on the other side (applied before anything that goes into it).
    var isFolderCreation: Bool {
        guard case .copy(let target) = decision else { return false }
        return entry(target.other)?.kind == .directory
    }
}
