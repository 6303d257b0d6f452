public import SyncCore
public import SyncTrees

/// What a run does with versions: on, with the run's time (every version it keeps is named
/// with it) and the rules that prune the store at the end.
public struct VersionSettings: Sendable, Hashable {
    public var runTime: Timestamp
    public var rules: KeepRules

    public init(runTime: Timestamp, rules: KeepRules) {
        self.runTime = runTime
        self.rules = rules
    }
}

/// Keeps and prunes versions in a side's `.ha-sync-versions/` folder. Blocking: runs on the
/// engine's I/O pool (or in `ha-sync versions`).
public struct VersionStore: Sendable {
    public let settings: VersionSettings

    public init(settings: VersionSettings) {
        self.settings = settings
    }

    /// Keeps the entry at `path` (as listed: `expected`) as a version before it is replaced
    /// (`keepOriginal`: the name keeps its content until the write) or deleted (moved away).
    /// Returns the version's path and whether the original is still in place.
    public func keep(_ path: RelativePath, expected: Entry, on tree: any SyncTree, keepOriginal: Bool) throws -> RelativePath {
        let first = firstName(of: path)
        for attempt in 1...1000 {
            let versionPath = attempt == 1 ? first : first.parent.appending(first.lastComponent + Array("-\(attempt)".utf8))
            do {
                try tree.keepVersion(of: path, as: versionPath, expected: expected, keepOriginal: keepOriginal)
                return versionPath
            } catch let error as SyncTreeError where error.code == .alreadyExists {
                continue
            }
        }
        throw SyncTreeError(code: .alreadyExists, operation: "keep version", path: path, detail: "1000 versions of it in this run already")
    }

    /// Keeps `existing` (what `tree` holds at `path`) as a version, or in a dry run only says
    /// where it would go, and returns the operation's record. A failure names what was kept
    /// from happening: nothing is replaced or deleted without its version.
    public func record(
        keeping path: RelativePath, _ existing: Entry, on tree: any SyncTree, side: Side?, moving: Bool, dryRun: Bool
    ) throws -> OperationResult {
        let started = Timestamp.now()
        let versionPath: RelativePath
        if dryRun {
            versionPath = firstName(of: path)
        } else {
            do {
                versionPath = try keep(path, expected: existing, on: tree, keepOriginal: !moving)
            } catch {
                throw Self.notKept(error, path, moving: moving)
            }
        }
        return OperationResult(
            path: versionPath, action: .keepVersion, kind: existing.kind, sizeBefore: existing.size, sizeAfter: existing.size,
            startedAt: started, endedAt: Timestamp.now(), side: side)
    }

    /// Keeps several of a tree's entries as versions before they are replaced (or, `moving`,
    /// deleted), in as few exchanges as the tree allows. For each, in order: the version's
    /// record and whether the original is still at its name, or why it could not be kept
    /// (then nothing may happen to the file).
    public func record(
        keeping items: [(path: RelativePath, existing: Entry)], on tree: any SyncTree, side: Side?, moving: Bool
    ) -> [Result<(kept: OperationResult, originalStays: Bool), any Error>] {
        let started = Timestamp.now()
        var versions = items.map { VersionToKeep(path: $0.path, versionPath: firstName(of: $0.path), expected: $0.existing, keepOriginal: !moving) }
        let outcomes = tree.keepVersions(versions)
        return items.indices.map { index in
            var outcome = outcomes[index]
            if case .failure(let error as SyncTreeError) = outcome, error.code == .alreadyExists {
                // Its name is taken (kept once already in this run): the next free one.
                outcome = Result {
                    versions[index].versionPath = try keep(items[index].path, expected: items[index].existing, on: tree, keepOriginal: !moving)
                    return moving ? false : try tree.entry(at: items[index].path) != nil
                }
            }
            return outcome.map { stays in
                let existing = items[index].existing
                let kept = OperationResult(
                    path: versions[index].versionPath, action: .keepVersion, kind: existing.kind, sizeBefore: existing.size,
                    sizeAfter: existing.size, startedAt: started, endedAt: Timestamp.now(), side: side)
                return (kept, stays)
            }.mapError { Self.notKept($0, items[index].path, moving: moving) }
        }
    }

    /// The first name a version of `path` kept in this run gets.
    private func firstName(of path: RelativePath) -> RelativePath {
        Self.versionFolder(of: path).appending(VersionName.stem(path.lastComponent) + Array("~\(VersionName.stamp(settings.runTime))".utf8))
    }

    /// A failure to keep a version names what it kept from happening; a file changed
    /// meanwhile stays a ``SyncTreeError/Code/targetChanged`` (left alone, not a failure).
    private static func notKept(_ error: any Error, _ path: RelativePath, moving: Bool) -> any Error {
        guard let error = error as? SyncTreeError, error.code != .targetChanged else { return error }
        return SyncTreeError(
            code: error.code, operation: "keep the old version in .ha-sync-versions", path: path,
            detail: "\(error.message); nothing was \(moving ? "deleted" : "replaced")")
    }

    /// The folder in the store that holds the versions of the files of `path`'s folder.
    public static func versionFolder(of path: RelativePath) -> RelativePath {
        var folder = VersionName.folderPath
        if !path.parent.isRoot {
            for component in path.parent.bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
                folder = folder.appending(Array(component))
            }
        }
        return folder
    }

    /// One kept version found in the store.
    struct Found: Sendable {
        var path: RelativePath
        var info: VersionInfo
    }

    /// Prunes a side's store by the keep rules (in a dry run, only reports what would go), and
    /// removes the store's folders that end up empty. Returns one record per pruned version.
    public func prune(on tree: any SyncTree, side: Side?, dryRun: Bool, shouldStop: () -> Bool) -> [OperationResult] {
        pruneStore(on: tree, side: side, dryRun: dryRun, shouldStop: shouldStop).results
    }

    /// As ``prune(on:side:dryRun:shouldStop:)``, with what stays in the store.
    public func pruneStore(on tree: any SyncTree, side: Side?, dryRun: Bool, shouldStop: () -> Bool) -> (
        results: [OperationResult], keptFiles: Int, keptBytes: Int64
    ) {
        let (prune, keptFiles, keptBytes) = plan(on: tree)
        var results: [OperationResult] = []
        var folders = Set<RelativePath>()
        for version in prune where !shouldStop() {
            let started = Timestamp.now()
            var result = OperationResult(
                path: version.path, action: .prune, kind: .file, sizeBefore: version.info.size, startedAt: started, endedAt: started, side: side)
            if !dryRun {
                do {
                    try tree.remove(version.path, kind: .file)
                    folders.insert(version.path.parent)
                } catch {
                    result.status = .failed
                    result.errorMessage = (error as? SyncTreeError)?.message ?? "\(error)"
                }
                result.endedAt = Timestamp.now()
            }
            results.append(result)
        }
        // Empty folders of the store, deepest first; a folder that still holds versions stays.
        var pending = folders
        while let folder = pending.max(by: { $0.depth < $1.depth }) {
            pending.remove(folder)
            guard folder.isDescendant(of: VersionName.folderPath) else { continue }
            if (try? tree.remove(folder, kind: .directory)) != nil { pending.insert(folder.parent) }
        }
        return (results, keptFiles, keptBytes)
    }

    /// Walks a side's store and decides what the rules prune; returns the versions to remove.
    func plan(on tree: any SyncTree) -> (prune: [Found], kept: Int, keptBytes: Int64) {
        var groups: [[UInt8]: [Found]] = [:]  // folder + "/" + stem → versions
        // A peer streams the whole store's listings in one exchange.
        tree.visitListings(under: VersionName.folderPath) { folder, listing in
            for entry in listing.entries where entry.kind != .directory {
                guard let parsed = VersionName.parse(entry.name) else { continue }  // not ours: left alone
                groups[folder.bytes + [0] + parsed.stem, default: []].append(
                    Found(path: folder.appending(entry.name), info: VersionInfo(time: parsed.time, size: entry.size)))
            }
        }
        let files = Array(groups.values)
        var keep = files.map { settings.rules.decide($0.map(\.info), now: settings.runTime) }
        settings.rules.applySizeCap(files.map { $0.map(\.info) }, keep: &keep)
        var prune: [Found] = []
        var kept = 0
        var keptBytes: Int64 = 0
        for (file, versions) in files.enumerated() {
            for (index, version) in versions.enumerated() {
                if keep[file][index] {
                    kept += 1
                    keptBytes += version.info.size
                } else {
                    prune.append(version)
                }
            }
        }
        prune.sort { $0.path < $1.path }
        return (prune, kept, keptBytes)
    }
}
