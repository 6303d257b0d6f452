import SyncCore
import SyncTrees
import Synchronization

/// A file copied onto a side in a batch: a new one, or a changed one replacing what the side
/// held when it was listed.
struct BatchedCopy {
    var operation: BidirectionalOperation
    var target: Side
    /// What the write expects at the name: the entry listed there, or nothing (a new file, or
    /// one whose old version was moved into the store).
    var expecting: Entry?
    /// The origin's and the target's MD5, when a comparison found the content differs.
    var digests: (origin: String, target: String)?
}

extension BatchedCopy {
    /// The batched copy an operation makes, if it is a file copy (or a comparison, read ahead
    /// in `digests`, that found the content differs) onto a file or nothing; `nil` for the
    /// operations that go one by one.
    init?(_ operation: BidirectionalOperation, digests: (Result<String, any Error>, Result<String, any Error>)?) {
        let target: Side
        switch operation.decision {
        case .copy(let side):
            target = side
        case .compareThenCopy(let side):
            // Same content (only the mtime moved) or an unreadable side: one by one.
            guard let (origin, targetDigest) = try? (digests?.0.get(), digests?.1.get()), let origin, let targetDigest,
                origin != targetDigest
            else { return nil }
            target = side
            self.digests = (origin, targetDigest)
        default:
            return nil
        }
        guard operation.entry(target.other)?.kind == .file, operation.entry(target).map({ $0.kind == .file }) ?? true else { return nil }
        self.operation = operation
        self.target = target
        self.expecting = operation.entry(target)
    }
}

extension BidirectionalEngine {
    /// Copies a batch's files to each side in few exchanges when a side is across a network,
    /// as the one-way engine does: the versions of what the changed files replace are kept in
    /// one request, the origin fetches the files ahead in one, the target receives them in one.
    /// Each file is still written atomically, and only where the target holds what was listed
    /// (or, for a new file, nothing); one whose folder has gone takes the one-by-one path,
    /// which makes it.
    func copyTogether(_ copies: [BatchedCopy], results: inout [OperationResult], updates: inout [ArchiveUpdate]) {
        for target in [Side.a, Side.b] {
            var group = copies.filter { $0.target == target }
            if let versions = configuration.versions { group = keepVersions(of: group, on: target, settings: versions, results: &results) }
            guard !group.isEmpty else { continue }
            let origin = target.other
            let started = Timestamp.now()
            tree(origin).prefetch(group.map { ($0.operation.path, $0.operation.entry(origin)!.size) })
            // What each reader found when it opened its file: the permissions that were written.
            let opened = Mutex([Int: FileAttributes]())
            let incoming = group.enumerated().map { index, copy in
                IncomingFile(path: copy.operation.path, expectedTarget: ExpectedTarget(copy.expecting)) { [self] in
                    let reader = try tree(origin).openFile(copy.operation.path)
                    opened.withLock { $0[index] = reader.attributes }
                    return reader
                }
            }
            var oneByOne: [Int] = []
            tree(target).receiveFiles(incoming, options: configuration.copyOptions, shouldStop: { [stopSignal] in stopSignal.isStopped }) {
                index, outcome in
                let operation = group[index].operation
                var result = record(of: group[index], started: started)
                switch outcome {
                case .success(let report):
                    result.bytesTransferred = report.bytesCopied
                    result.sizeAfter = report.size
                    if let digest = report.md5 { result.md5After = digest }
                    var written = operation.entry(origin)!
                    written.size = report.size
                    written.modified = report.modified
                    written.permissions = opened.withLock { $0[index]?.permissions } ?? written.permissions
                    updates.append(.put(operation.path, written))
                    result.endedAt = Timestamp.now()
                case .failure(let error as SyncTreeError) where error.code == .interrupted:
                    return  // stopped: left for the next run
                case .failure(let error as SyncTreeError) where error.code == .notFound && error.operation != SyncTreeError.openSource:
                    oneByOne.append(index)  // its folder is gone on this side
                    return
                case .failure(let error):
                    recordFailure(of: operation, on: target, error, result: &result)
                }
                observer.operationFinished(result)
                results.append(result)
            }
            for index in oneByOne where !stopSignal.isStopped {
                var result = record(of: group[index], started: Timestamp.now())
                writeCopy(group[index].operation, to: target, expecting: group[index].expecting, result: &result, updates: &updates)
                observer.operationFinished(result)
                results.append(result)
            }
        }
    }

    /// Keeps, in one exchange, the versions of what the changed files of `group` replace on
    /// `target`; returns the copies that may go ahead. A file whose version could not be kept
    /// is not replaced (its record says why); one whose old version had to be moved away
    /// (no hard link possible) is then written where nothing is.
    private func keepVersions(of group: [BatchedCopy], on target: Side, settings: VersionSettings, results: inout [OperationResult])
        -> [BatchedCopy]
    {
        let replacing = group.indices.filter { group[$0].expecting != nil }
        guard !replacing.isEmpty else { return group }
        let outcomes = VersionStore(settings: settings).record(
            keeping: replacing.map { (group[$0].operation.path, group[$0].expecting!) }, on: tree(target), side: target, moving: false)
        var proceeding = group
        var refused = Set<Int>()
        for (index, outcome) in zip(replacing, outcomes) {
            switch outcome {
            case .success(let (kept, originalStays)):
                observer.operationFinished(kept)
                results.append(kept)
                if !originalStays { proceeding[index].expecting = nil }
            case .failure(let error):
                refused.insert(index)
                var result = record(of: group[index], started: Timestamp.now())
                recordFailure(of: group[index].operation, on: target, error, result: &result)
                observer.operationFinished(result)
                results.append(result)
            }
        }
        return proceeding.indices.filter { !refused.contains($0) }.map { proceeding[$0] }
    }

    /// The record of a batched copy before its outcome is known.
    private func record(of copy: BatchedCopy, started: Timestamp) -> OperationResult {
        let existing = copy.operation.entry(copy.target)
        return OperationResult(
            path: copy.operation.path, action: existing == nil ? .create : .update(copy.digests == nil ? .changedOnOtherSide : .contentDiffers),
            kind: .file, sizeBefore: existing?.size, sizeAfter: copy.operation.entry(copy.target.other)!.size, md5Before: copy.digests?.target,
            md5After: copy.digests?.origin, startedAt: started, endedAt: started, side: copy.target)
    }

    /// The digests a batch's comparisons of small files need, one exchange per side and
    /// direction instead of one per file. Large files are read side by side on their own
    /// (``PairedDigests``).
    func batchedDigests(_ batch: [BidirectionalOperation]) -> [RelativePath: (Result<String, any Error>, Result<String, any Error>)] {
        var found: [RelativePath: (Result<String, any Error>, Result<String, any Error>)] = [:]
        for target in [Side.a, Side.b] {
            let paths = batch.filter { operation in
                guard case .compareThenCopy(target) = operation.decision else { return false }
                return (operation.entry(target.other)?.size ?? 0) < PairedDigests.overlapFrom
            }.map(\.path)
            guard paths.count > 1 else { continue }
            for (path, digests) in zip(paths, PairedDigests.md5s(of: paths, tree(target.other), tree(target))) { found[path] = digests }
        }
        return found
    }
}
