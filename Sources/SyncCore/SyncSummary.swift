/// Counters of one run, in the shape of the `sync_iterations` row.
public struct SyncSummary: Sendable, Hashable, Codable {
    public var created = 0
    public var updated = 0
    /// Updates that only fixed the mtime of an identical file (part of ``updated``).
    public var metadataOnly = 0
    public var deleted = 0
    public var skipped = 0
    public var failed = 0
    /// Paths changed on both sides with different content (bidirectional runs); each kept a conflict copy.
    public var conflicts = 0
    /// Versions kept in the version stores (each replaced or deleted file).
    public var versionsKept = 0
    /// Versions pruned from the version stores by the keep rules.
    public var versionsPruned = 0
    /// Versions left in the version stores after pruning, and their bytes (both sides of a
    /// bidirectional pair together).
    public var versionStoreFiles = 0
    public var versionStoreBytes: Int64 = 0
    /// Entries a filter rule excluded (a folder counts once; nothing below it is looked at).
    public var excluded = 0
    public var bytesTransferred: Int64 = 0
    /// Files left for a later run (part of ``skipped``): younger than `--min-age`, changed
    /// while being copied, or waiting for a `--publish-after` dependency.
    public var leftForLater = 0

    public init() {}

    /// Counts one finished operation.
    public mutating func record(_ result: OperationResult) {
        guard result.status == .success else {
            failed += 1
            return
        }
        bytesTransferred += result.bytesTransferred
        if result.isConflict {
            conflicts += 1
            return
        }
        switch result.action {
        case .create: created += 1
        case .update: updated += 1
        case .setModificationTime:
            updated += 1
            metadataOnly += 1
        case .delete: deleted += 1
        case .keepVersion: versionsKept += 1
        case .prune: versionsPruned += 1
        case .skip(.tooYoung), .skip(.changedDuringRun), .skip(.dependencyIncomplete):
            skipped += 1
            leftForLater += 1
        case .skip, .compareContent: skipped += 1
        }
    }

    /// Counts one path that needed nothing.
    public mutating func recordSkip() {
        skipped += 1
    }

    /// Operations that changed (or in a dry run, would change) the destination.
    public var changes: Int { created + updated + deleted }
}
