/// What the comparison rules decide for one path.
public enum Action: Hashable, Sendable {
    /// The destination has nothing at this path: make it like the source.
    case create
    /// Replace the destination's entry with the source's.
    case update(UpdateReason)
    /// Same size, source newer: hash both sides. Equal content resolves to
    /// ``setModificationTime``, different content to ``update(_:)`` with ``UpdateReason/contentDiffers``.
    case compareContent
    /// Content is identical: only copy the source's mtime, so later runs in either direction are quiet.
    case setModificationTime
    /// Remove the destination's entry (only with `--delete-missing`).
    case delete
    /// Leave the destination as it is.
    case skip(SkipReason)
    /// The entry about to be replaced or deleted was kept in the side's version store
    /// (the result's path is the version's).
    case keepVersion
    /// A kept version was removed from the store by the keep rules.
    case prune

    /// Whether the action writes over what the destination holds (an update, or a compare that
    /// may turn into one).
    public var isReplace: Bool {
        switch self {
        case .update, .compareContent: true
        default: false
        }
    }

    /// The audit operation this action is recorded as, `nil` for skips and unresolved comparisons.
    public var operation: Operation? {
        switch self {
        case .create: .create
        case .update, .setModificationTime: .update
        case .delete: .delete
        case .keepVersion: .version
        case .prune: .prune
        case .skip, .compareContent: nil
        }
    }
}

/// Why an entry is replaced.
public enum UpdateReason: String, Hashable, Sendable, Codable {
    /// The source is newer and the sizes differ.
    case sourceNewer = "source newer"
    /// The source is newer, sizes are equal, and the MD5s differ.
    case contentDiffers = "content differs"
    /// The mtimes are equal within the threshold but the sizes differ: the source wins.
    case sizeDiffers = "same mtime, size differs"
    /// Both are symlinks that point to different places.
    case symlinkTargetDiffers = "symlink target differs"
    /// The entry changed kind (file, symlink or directory) and the source's is not older.
    case kindChanged = "kind changed"
    /// Bidirectional: changed on the other side since the last sync, unchanged here.
    case changedOnOtherSide = "changed on the other side"
    /// Bidirectional: changed on both sides; the other version was kept as a conflict copy.
    case conflict = "conflict"
}

/// Why an entry is left alone.
public enum SkipReason: String, Hashable, Sendable, Codable {
    case inSync = "in sync"
    case bothDirectories = "directory"
    /// The destination is newer: the job of the reverse direction owns this file.
    case destinationNewer = "destination newer"
    /// Present only on the destination and `--delete-missing` is off.
    case onlyOnDestination = "only on destination"
    /// FIFOs, sockets and devices are never synced.
    case unsupportedKind = "unsupported file type"
    /// The destination is a directory where the source has a file or symlink (or the
    /// destination is a special file): replacing it would delete data, so a person decides.
    case kindConflict = "kind conflict"
    /// The source entry disappeared between the listing and the copy (not an error: a live
    /// share changes while it is synced; the next run sees the new state).
    case vanished = "vanished from source"
    /// Bidirectional: the entry changed on the side it was about to be replaced or deleted on,
    /// after it was listed; the next run looks at it again.
    case changedDuringRun = "changed during the run"
    /// Bidirectional: a folder deleted on the other side still holds something here.
    case notEmpty = "folder not empty"
    /// Bidirectional: part of the folder could not be listed on one side; nothing below it is changed.
    case unlisted = "not listed"
    /// A filter rule excludes the path: never copied, deleted or looked into.
    case excluded = "excluded"
    /// Modified more recently than `--min-age`: perhaps still being written, so left for a later run.
    case tooYoung = "younger than --min-age"
    /// A `--publish-after` rule holds the file back: its dependency is not complete on this destination.
    case dependencyIncomplete = "waiting for its dependency"
}

/// The operations recorded in the audit trail.
public enum Operation: String, Hashable, Sendable, Codable, CaseIterable {
    case create
    case update
    case delete
    /// A replaced or deleted file was kept in the version store (the path is the version's).
    case version
    /// A kept version was pruned by the keep rules.
    case prune
}

/// Which sides of a directory pair the walk descends into.
public enum Descend: Hashable, Sendable {
    case none
    /// Both sides are directories: merge their listings.
    case both
    /// Only the source is (or will be) a directory: everything below is created.
    case sourceOnly
    /// Only the destination is a directory and it is being deleted: everything below is deleted.
    case destinationOnly
}

/// A reconciler's answer for one path.
public struct Verdict: Hashable, Sendable {
    public var action: Action
    public var descend: Descend
    /// The side the action changes; it reads from the other one. Always B in one-way mode.
    public var side: Side

    public init(_ action: Action, descend: Descend = .none, side: Side = .b) {
        self.action = action
        self.descend = descend
        self.side = side
    }
}
