import SyncCore
import SyncTrees

/// The end of a pass on a destination: staged copies go into place together
/// (`--delay-updates`), then the files that announce others (`--publish-after`), then those
/// that go last (`--publish-last`).
extension SyncEngine {
    /// Renames every staged copy into place, in the order they finished, and reports each.
    /// After a stop nothing is renamed: the staged copies are removed and the destination
    /// keeps its old content.
    func publishStaged(mode: Mode, pool: NIOThreadPoolBox, into summary: inout SyncSummary) async throws {
        let copies = staged.takeAll()
        guard !copies.isEmpty else { return }
        let results = try await pool.run { () -> [OperationResult] in
            var results: [OperationResult] = []
            for copy in copies {
                let path = copy.planned.path
                if stopSignal.isStopped {
                    try? destination.removeTemporaryFile(named: copy.temporaryName, in: path.parent)
                    continue
                }
                var result = copy.result
                do {
                    try destination.publishStaged(copy.temporaryName, as: path)
                } catch {
                    try? destination.removeTemporaryFile(named: copy.temporaryName, in: path.parent)
                    result.status = .failed
                    result.errorMessage = "\(error)"
                }
                result.endedAt = Timestamp.now()
                observer.operationFinished(result)
                results.append(result)
            }
            restoreFolderTimes(of: copies.map(\.planned.path), mode: mode)
            return results
        }
        record(results, into: &summary, notify: false)
    }

    /// Publishes the held-back files: each `--publish-after` file once its dependency is in
    /// place on this destination (or withheld, and reported, when it is not), then the
    /// `--publish-last` files.
    func publishHeld(_ held: [PlannedOperation], mode: Mode, pool: NIOThreadPoolBox, into summary: inout SyncSummary) async throws {
        guard !held.isEmpty, !stopSignal.isStopped else { return }
        let publication = configuration.publication
        let results = try await pool.run { () -> [OperationResult] in
            var results: [OperationResult] = []
            var waiting = held.compactMap { operation -> (PlannedOperation, RelativePath, String)? in
                guard case .after(let dependency, let rule) = publication.stage(of: operation.path) else { return nil }
                return (operation, dependency, rule)
            }
            // A dependency may itself wait for another: go round while something was published.
            var progressed = true
            while progressed && !waiting.isEmpty && !stopSignal.isStopped {
                progressed = false
                var stillWaiting: [(PlannedOperation, RelativePath, String)] = []
                for (operation, dependency, rule) in waiting {
                    if dependencyReady(dependency, mode: mode) {
                        results += apply([operation], mode: mode, staging: false)
                        progressed = true
                    } else {
                        stillWaiting.append((operation, dependency, rule))
                    }
                }
                waiting = stillWaiting
            }
            for (operation, dependency, rule) in waiting where !stopSignal.isStopped {
                logger.info(
                    "not published: its dependency is not complete on \(destination.displayName); a later run publishes it",
                    metadata: ["path": "\(operation.path)", "dependency": "\(dependency)", "rule": "\(rule)"])
                let now = Timestamp.now()
                let result = OperationResult(
                    path: operation.path, action: .skip(.dependencyIncomplete), kind: operation.kind, startedAt: now, endedAt: now)
                observer.operationFinished(result)
                results.append(result)
            }
            let last = held.filter { publication.stage(of: $0.path) == .last }
            if !last.isEmpty && !stopSignal.isStopped {
                results += apply(last, mode: mode, staging: false)
            }
            restoreFolderTimes(of: held.map(\.path), mode: mode)
            return results
        }
        record(results, into: &summary, notify: false)
    }

    /// Whether a `--publish-after` dependency is complete on the destination: in sync with the
    /// source (copied in this run, or already there). A dry run, which copies nothing, only
    /// asks that the source has it as a settled file.
    private func dependencyReady(_ dependency: RelativePath, mode: Mode) -> Bool {
        guard let source = try? source.entry(at: dependency), source.kind == .file else { return false }
        if let cutoff = configuration.minAgeCutoff, source.modified > cutoff { return false }
        if mode != .apply { return true }
        guard let target = try? destination.entry(at: dependency) else { return false }
        return configuration.reconciler.reconcile(PathState(a: source, b: target)).action == .skip(.inSync)
    }

    /// Renames into a folder changed its mtime after the pass had set the source's: set it again.
    private func restoreFolderTimes(of paths: [RelativePath], mode: Mode) {
        guard mode == .apply else { return }
        var seen = Set<RelativePath>()
        for folder in paths.map(\.parent) where !folder.isRoot && seen.insert(folder).inserted {
            guard let entry = try? source.entry(at: folder), entry.kind == .directory else { continue }
            try? destination.finishDirectory(folder, permissions: entry.permissions, modified: entry.modified)
        }
    }
}
