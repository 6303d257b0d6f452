import SyncCore
import SyncTrees
import Synchronization

/// A file one side has and the other has nothing at: the commonest copy of a first run.
struct NewFile {
    var operation: BidirectionalOperation
    var target: Side
}

extension BidirectionalEngine {
    /// Copies a batch's new files to each side in one exchange when a side is across a network:
    /// the origin fetches them ahead in one request, the target receives them in one, as the
    /// one-way engine does. Each file is still written atomically and only where nothing has
    /// appeared meanwhile; one whose folder has gone takes the one-by-one path, which makes it.
    func copyNewFiles(_ files: [NewFile], results: inout [OperationResult], updates: inout [ArchiveUpdate]) {
        for target in [Side.a, Side.b] {
            let group = files.filter { $0.target == target }
            guard !group.isEmpty else { continue }
            let origin = target.other
            let started = Timestamp.now()
            tree(origin).prefetch(group.map { ($0.operation.path, $0.operation.entry(origin)!.size) })
            // What each reader found when it opened its file: the permissions that were written.
            let opened = Mutex([Int: FileAttributes]())
            let incoming = group.enumerated().map { index, file in
                IncomingFile(path: file.operation.path) { [self] in
                    let reader = try tree(origin).openFile(file.operation.path)
                    opened.withLock { $0[index] = reader.attributes }
                    return reader
                }
            }
            var options = configuration.copyOptions
            options.expectedTarget = .absent
            var oneByOne: [Int] = []
            tree(target).receiveFiles(incoming, options: options, shouldStop: { [stopSignal] in stopSignal.isStopped }) { index, outcome in
                let operation = group[index].operation
                let source = operation.entry(origin)!
                var result = OperationResult(
                    path: operation.path, action: .create, kind: .file, sizeAfter: source.size, startedAt: started, endedAt: started,
                    side: target)
                switch outcome {
                case .success(let report):
                    result.bytesTransferred = report.bytesCopied
                    result.sizeAfter = report.size
                    if let digest = report.md5 { result.md5After = digest }
                    var written = source
                    written.size = report.size
                    written.modified = report.modified
                    written.permissions = opened.withLock { $0[index]?.permissions } ?? source.permissions
                    updates.append(.put(operation.path, written))
                case .failure(let error as SyncTreeError) where error.code == .interrupted:
                    return  // stopped: left for the next run
                case .failure(let error as SyncTreeError) where error.code == .notFound && error.operation == SyncTreeError.openSource:
                    result.action = .skip(.vanished)
                case .failure(let error as SyncTreeError) where error.code == .targetChanged || error.code == .sourceChanged:
                    logger.info("left alone: changed during the run", metadata: ["path": "\(operation.path)", "side": "\(tree(target).displayName)"])
                    result.action = .skip(.changedDuringRun)
                case .failure(let error as SyncTreeError) where error.code == .notFound:
                    oneByOne.append(index)  // its folder is gone on this side
                    return
                case .failure(let error):
                    result = failure(operation, error, side: target, started: started)
                }
                result.endedAt = Timestamp.now()
                observer.operationFinished(result)
                results.append(result)
            }
            for index in oneByOne where !stopSignal.isStopped {
                let produced = applyOne(group[index].operation, mode: .apply, updates: &updates)
                for result in produced { observer.operationFinished(result) }
                results += produced
            }
        }
    }
}
