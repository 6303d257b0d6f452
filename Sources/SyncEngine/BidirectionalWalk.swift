import DequeModule
import SyncCore
import SyncTrees

/// What a bidirectional walk does with its plan.
enum WalkMode: Sendable, Equatable {
    /// Names and kinds only: count what the guards need, decide nothing else.
    case survey
    /// Decide everything and keep the operations for later (up to a limit), change nothing:
    /// the guards then see the real plan, and a run with few changes walks the trees once.
    case plan
    case dryRun
    case apply
}

/// A folder to list on both sides and in the archive.
struct BidirectionalJob: Sendable {
    var path: RelativePath
    /// Whether each side has the folder (a side that does not is listed as empty).
    var present: [Bool]
    /// Whether the archive recorded the folder (so it has children to read).
    var archived: Bool

    func isPresent(_ side: Side) -> Bool { present[side == .a ? 0 : 1] }
}

/// One operation of a bidirectional run: a path, what the rules decided, and the entries
/// they decided from.
struct BidirectionalOperation: Sendable {
    var path: RelativePath
    var decision: BidirectionalDecision
    var a: Entry?
    var b: Entry?
    var archived: Entry?
    /// The name the losing version takes if this turns out to be a conflict.
    var conflictName: [UInt8]?

    func entry(_ side: Side) -> Entry? { side == .a ? a : b }

    /// Bytes a copy would move (for progress and batching).
    var bytes: Int64 {
        switch decision {
        case .copy(let side), .compareThenCopy(let side): entry(side.other)?.kind == .file ? entry(side.other)?.size ?? 0 : 0
        case .conflict, .compareBoth: (a?.size ?? 0) + (b?.size ?? 0)
        default: 0
        }
    }
}

/// What one walk found and did.
struct BidirectionalOutcome: Sendable {
    var summary = SyncSummary()
    /// Entries in each side's root, and in the archive's.
    var rootEntries = [0, 0]
    var archivedRootEntries = 0
    /// Files and symlinks the walk would delete on each side.
    var plannedFileDeletes = [0, 0]
    var deletes: [BidirectionalOperation] = []
    /// Folders deleted on one side, to remove on the other once their content is decided.
    var directoryDeletes: [BidirectionalOperation] = []
    /// Folders this run created (attributes are set once their content is in).
    var createdDirectories: [(side: Side, path: RelativePath, entry: Entry)] = []
    var listingFailed = false
    var temporaryFilesRemoved = 0
    var microsPerRequest: Double?
    /// A `.plan` walk's operations, folder creations first in walk order (parents before children).
    var pending: [BidirectionalOperation] = []
    /// Set when a `.plan` walk found more operations than it keeps: they are applied by a second walk.
    var overflowed = false
    /// Temporary files of killed runs that a `.plan` walk saw (removed when the plan is applied).
    var temporaryFiles: [(side: Side, directory: RelativePath, name: [UInt8])] = []
}

/// What listing one job gave.
struct BidirectionalListing: Sendable {
    var entries: [[Entry]] = [[], []]
    var archived: [Entry] = []
    var temporaryFiles: [[[UInt8]]] = [[], []]
    /// The first side that could not be listed completely, and why.
    var failure: (side: Side, error: any Error)?
    var nanoseconds: Int64 = 0
    var overlapped = false
}

/// What planning one folder gave.
struct BidirectionalPlan: Sendable {
    var operations: [BidirectionalOperation] = []
    var subdirectories: [BidirectionalJob] = []
    var archiveUpdates: [ArchiveUpdate] = []
    var results: [OperationResult] = []
    var skipped = 0
    var notableSkips: [(RelativePath, SkipReason)] = []
    var plannedFileDeletes = [0, 0]
    var deletes: [BidirectionalOperation] = []
    var directoryDeletes: [BidirectionalOperation] = []
    var createdDirectories: [(side: Side, path: RelativePath, entry: Entry)] = []
    var listingFailed = false
    var exclusions: [(RelativePath, FilterRule)] = []
}

extension BidirectionalEngine {
    /// Lists a job's two sides and its archived children. Runs the tree calls on the I/O pool.
    func list(_ job: BidirectionalJob, mode: WalkMode, pool: NIOThreadPoolBox, remote: Bool) async throws -> BidirectionalListing {
        let started = monotonicNanoseconds()
        async let archived: [Entry] = job.archived ? archive.children(of: job.path) : []
        var listing = BidirectionalListing()
        let sides: [Result<DirectoryListing, any Error>?]
        if remote {
            async let first = pool.run(wide: true) { self.listSide(job, .a, mode: mode) }
            async let second = pool.run(wide: true) { self.listSide(job, .b, mode: mode) }
            sides = try await [first, second]
            listing.overlapped = true
        } else {
            sides = try await pool.run { [self.listSide(job, .a, mode: mode), self.listSide(job, .b, mode: mode)] }
        }
        for (index, side) in [Side.a, .b].enumerated() {
            switch sides[index] {
            case nil:
                break
            case .success(let listed)?:
                if let failure = listed.failures.first, listing.failure == nil {
                    listing.failure = (side, failure)
                }
                listing.entries[index] = listed.entries
                listing.temporaryFiles[index] = listed.temporaryFiles
            case .failure(let error)?:
                if listing.failure == nil { listing.failure = (side, error) }
            }
        }
        listing.archived = try await archived
        if job.path.isRoot {
            // The version stores are never synced, counted or deleted.
            for index in 0..<2 { listing.entries[index].removeAll { $0.name == VersionName.folder } }
            listing.archived.removeAll { $0.name == VersionName.folder }
        }
        listing.nanoseconds = monotonicNanoseconds() - started
        return listing
    }

    private func listSide(_ job: BidirectionalJob, _ side: Side, mode: WalkMode) -> Result<DirectoryListing, any Error>? {
        guard job.isPresent(side) else { return nil }
        do {
            return .success(mode == .survey ? try tree(side).listKinds(job.path) : try tree(side).list(job.path))
        } catch {
            return .failure(error)
        }
    }

    /// Decides every name of a folder from the two listings and the archive.
    func plan(_ job: BidirectionalJob, _ listing: BidirectionalListing, mode: WalkMode) -> BidirectionalPlan {
        var plan = BidirectionalPlan()
        if let failure = listing.failure {
            // A side we cannot see fully may look like deletes: decide nothing below here.
            let message = (failure.error as? SyncTreeError)?.message ?? "\(failure.error)"
            logger.warning(
                "could not list a folder on one side; nothing in it is changed this run",
                metadata: ["path": "\(job.path)", "side": "\(tree(failure.side).displayName)", "error": "\(message)"])
            if job.path.isRoot { return plan }
            plan.listingFailed = true
            let now = Timestamp.now()
            plan.results.append(
                OperationResult(
                    path: job.path, action: .skip(.unlisted), kind: .directory, startedAt: now, endedAt: now, status: .failed,
                    errorMessage: "cannot list on \(tree(failure.side).displayName): \(message)", side: failure.side))
            return plan
        }
        let aEntries = listing.entries[0]
        let bEntries = listing.entries[1]
        var assigned = Set<[UInt8]>()
        func taken(_ name: [UInt8]) -> Bool {
            assigned.contains(name) || Self.contains(aEntries, name) || Self.contains(bEntries, name) || Self.contains(listing.archived, name)
        }
        // What depends on this folder's path is decided once; each name then costs a comparison per rule.
        let filters = configuration.filters.isEmpty ? nil : configuration.filters.inFolder(job.path)
        // New folders where nothing is in the way: made together once the folder is decided.
        var newFolders: [(operation: BidirectionalOperation, target: Side, result: Int)] = []
        ThreeWayMerge.merge(aEntries, bEntries, listing.archived) { aEntry, bEntry, archived in
            if let filters {
                let name = (aEntry ?? bEntry ?? archived)!.name
                let isDirectory = aEntry?.kind == .directory || bEntry?.kind == .directory
                if let rule = filters.excludingRule(name: name, isDirectory: isDirectory) {
                    // Left alone on both sides; it leaves the archive, so if it is included
                    // again later it counts as new on both sides (nothing deleted).
                    let path = job.path.appending(name)
                    if let archived { plan.archiveUpdates.append(archived.kind == .directory ? .removeTree(path) : .remove(path)) }
                    if mode != .survey { plan.exclusions.append((path, rule)) }
                    return
                }
            }
            if mode == .survey {
                survey(job.path.appending((aEntry ?? bEntry ?? archived)!.name), aEntry, bEntry, archived, plan: &plan)
                return
            }
            let decision = rules.decide(archived: archived, a: aEntry, b: bEntry)
            if decision == .inSync, let current = aEntry, let archived, !rules.differs(current, archived), archived.kind == current.kind {
                plan.skipped += 1  // the common case: nothing to do, nothing to record
                return
            }
            let name = (aEntry ?? bEntry ?? archived)!.name
            let path = job.path.appending(name)
            var operation = BidirectionalOperation(path: path, decision: decision, a: aEntry, b: bEntry, archived: archived)
            switch decision {
            case .inSync:
                if let current = aEntry, archived == nil || rules.differs(current, archived!) || archived!.kind != current.kind {
                    plan.archiveUpdates.append(.put(path, current))
                }
                plan.skipped += 1
            case .forget:
                plan.archiveUpdates.append(archived?.kind == .directory ? .removeTree(path) : .remove(path))
            case .bothDirectories:
                if archived?.kind != .directory { plan.archiveUpdates.append(.put(path, aEntry!)) }
                plan.subdirectories.append(BidirectionalJob(path: path, present: [true, true], archived: archived?.kind == .directory))
                plan.skipped += 1
            case .directoryDeleted(let present):
                plan.subdirectories.append(
                    BidirectionalJob(path: path, present: [present == .a, present == .b], archived: true))
                plan.directoryDeletes.append(operation)
            case .delete(let side):
                plan.plannedFileDeletes[side == .a ? 0 : 1] += 1
                plan.deletes.append(operation)
            case .copy(let target):
                let source = operation.entry(target.other)!
                if source.kind == .directory {
                    // Created while planning, so the new folder's content can follow at once
                    // (a `.plan` walk keeps it for later, before its content).
                    if mode == .plan {
                        plan.operations.append(operation)
                    } else if mode == .apply && operation.entry(target) == nil {
                        newFolders.append((operation, target, plan.results.count))
                        plan.results.append(createDirectory(operation, on: target, mode: .dryRun, plan: &plan))
                    } else {
                        plan.results.append(createDirectory(operation, on: target, mode: mode, plan: &plan))
                    }
                    plan.subdirectories.append(
                        BidirectionalJob(path: path, present: [target == .b, target == .a], archived: false))
                } else {
                    plan.operations.append(operation)
                }
            case .compareThenCopy:
                plan.operations.append(operation)
            case .compareBoth, .conflict:
                let loserSide: Side
                let winner: Side?
                if case .conflict(let side, _) = decision {
                    winner = side
                } else if case .compareBoth(let newer) = decision {
                    winner = newer
                } else {
                    winner = nil
                }
                loserSide = (winner ?? .a).other
                let loser = operation.entry(loserSide)!
                let copyName = ConflictName.make(for: name, label: labels[loserSide], modified: loser.modified, taken: taken)
                assigned.insert(copyName)
                operation.conflictName = copyName
                plan.operations.append(operation)
            case .skip(let reason):
                plan.skipped += 1
                if reason != .inSync { plan.notableSkips.append((path, reason)) }
            }
        }
        makeFolders(newFolders, plan: &plan)
        return plan
    }

    /// Creates new folders, each side's in one call (one exchange with a peer rather than one
    /// per folder), and completes their results.
    func makeFolders(_ folders: [(operation: BidirectionalOperation, target: Side, result: Int)], plan: inout BidirectionalPlan) {
        for side in [Side.a, Side.b] {
            let mine = folders.filter { $0.target == side }
            guard !mine.isEmpty else { continue }
            let failures = tree(side).makeDirectories(mine.map { NewDirectory(path: $0.operation.path) })
            let ended = Timestamp.now()
            for (folder, failure) in zip(mine, failures) {
                plan.results[folder.result].endedAt = ended
                if let failure {
                    plan.results[folder.result].status = .failed
                    plan.results[folder.result].errorMessage = (failure as? SyncTreeError)?.message ?? "\(failure)"
                } else {
                    let source = folder.operation.entry(side.other)!
                    plan.archiveUpdates.append(.put(folder.operation.path, source))
                    plan.createdDirectories.append((side, folder.operation.path, source))
                }
            }
        }
    }

    /// The survey's count: an archived file present on one side only may be deleted there
    /// (an upper bound: a changed one survives instead).
    private func survey(
        _ path: RelativePath, _ aEntry: Entry?, _ bEntry: Entry?, _ archived: Entry?, plan: inout BidirectionalPlan
    ) {
        let aFolder = aEntry?.kind == .directory
        let bFolder = bEntry?.kind == .directory
        if aFolder || bFolder {
            plan.subdirectories.append(BidirectionalJob(path: path, present: [aFolder, bFolder], archived: archived?.kind == .directory))
            return
        }
        guard let archived, archived.kind != .directory else { return }
        if aEntry != nil && bEntry == nil { plan.plannedFileDeletes[0] += 1 }
        if aEntry == nil && bEntry != nil { plan.plannedFileDeletes[1] += 1 }
    }

    func createDirectory(
        _ operation: BidirectionalOperation, on target: Side, mode: WalkMode, plan: inout BidirectionalPlan
    ) -> OperationResult {
        let source = operation.entry(target.other)!
        let existing = operation.entry(target)
        let started = Timestamp.now()
        var result = OperationResult(
            path: operation.path, action: existing == nil ? .create : .update(.kindChanged), kind: .directory, startedAt: started,
            endedAt: started, side: target)
        guard mode == .apply else { return result }
        do {
            if let existing {
                // Replaces a file or link the other side no longer has: only if it is still the one listed.
                guard ExpectedTarget.unchanged(existing).matches(try tree(target).entry(at: operation.path)) else {
                    result.action = .skip(.changedDuringRun)
                    return result
                }
            }
            var replacing = existing?.kind
            if let versions = configuration.versions, let existing {
                // The file or link the folder replaces goes to the version store first.
                plan.results.append(try keepVersion(operation.path, existing, on: target, moving: true, settings: versions, mode: mode))
                replacing = nil
            }
            try tree(target).makeDirectory(operation.path, replacing: replacing)
            plan.archiveUpdates.append(.put(operation.path, source))
            plan.createdDirectories.append((target, operation.path, source))
        } catch {
            result.status = .failed
            result.errorMessage = (error as? SyncTreeError)?.message ?? "\(error)"
        }
        result.endedAt = Timestamp.now()
        return result
    }

    static func contains(_ entries: [Entry], _ name: [UInt8]) -> Bool {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            let order = DirectoryMerge.compare(entries[middle].name, name)
            if order == 0 { return true }
            if order < 0 { low = middle + 1 } else { high = middle }
        }
        return false
    }
}
