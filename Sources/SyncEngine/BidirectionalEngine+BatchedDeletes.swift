import SyncCore
import SyncTrees

extension BidirectionalEngine {
    /// Whether a delete joins its batch's others: with versions on, against a side across a
    /// network, a delete is a move into the side's version store, and a batch's moves go in
    /// one exchange instead of one each.
    func deletesTogether(_ operation: BidirectionalOperation, mode: WalkMode) -> Bool {
        guard mode == .apply, configuration.versions != nil, case .delete(let side) = operation.decision,
            let entry = operation.entry(side), entry.kind != .directory
        else { return false }
        return tree(side).batchesTransfers
    }

    /// Deletes files (and symlinks) by moving them into their side's version store, a side's
    /// batch in one exchange. A file that changed since it was listed stays where it is.
    func deleteTogether(_ deletes: [BidirectionalOperation], results: inout [OperationResult], updates: inout [ArchiveUpdate]) {
        guard let versions = configuration.versions else { return }
        for side in [Side.a, Side.b] {
            let group = deletes.filter { $0.decision == .delete(on: side) }
            guard !group.isEmpty else { continue }
            let started = Timestamp.now()
            let outcomes = VersionStore(settings: versions).record(
                keeping: group.map { ($0.path, $0.entry(side)!) }, on: tree(side), side: side, moving: true)
            for (operation, outcome) in zip(group, outcomes) {
                let entry = operation.entry(side)!
                var produced: [OperationResult]
                switch outcome {
                case .success(let (kept, _)):
                    updates.append(.remove(operation.path))
                    produced = [
                        kept,
                        OperationResult(
                            path: operation.path, action: .delete, kind: entry.kind, sizeBefore: entry.size, startedAt: started,
                            endedAt: Timestamp.now(), side: side),
                    ]
                case .failure(let error as SyncTreeError) where error.code == .targetChanged:
                    produced = [
                        OperationResult(
                            path: operation.path, action: .skip(.changedDuringRun), kind: entry.kind, sizeBefore: entry.size,
                            startedAt: started, endedAt: Timestamp.now(), side: side)
                    ]
                case .failure(let error):
                    produced = [failure(operation, error, side: side, started: started)]
                }
                for result in produced { observer.operationFinished(result) }
                results += produced
            }
        }
    }
}
