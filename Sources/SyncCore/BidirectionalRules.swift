/// What a bidirectional run does with one path.
public enum BidirectionalDecision: Hashable, Sendable {
    /// Both sides hold the same thing: record it in the archive, change nothing.
    case inSync
    /// Gone from both sides: drop it from the archive.
    case forget
    /// New or changed on the other side only: copy it onto `side` (create or replace).
    case copy(to: Side)
    /// Changed on the other side only, same size: hash both. Identical bytes move only the
    /// mtime onto `side`; different bytes are copied.
    case compareThenCopy(to: Side)
    /// Deleted on the other side and unchanged here: delete it on `side`.
    case delete(on: Side)
    /// Changed (or created) on both sides as files of the same size: hash both. Identical bytes
    /// settle on the newer mtime; different bytes are a ``conflict(winner:tie:)``.
    case compareBoth(newer: Side?)
    /// Different versions on both sides: `winner`'s keeps the name on both sides and the other
    /// is kept beside it, on both sides, as a conflict copy. `tie` when neither was newer
    /// (equal mtimes within the threshold): A's version takes the name.
    case conflict(winner: Side, tie: Bool)
    /// Both sides are directories: merge their content.
    case bothDirectories
    /// A directory on `present` only, deleted on the other side since the last sync: its
    /// content is decided path by path, then the directory is removed if nothing in it survived.
    case directoryDeleted(present: Side)
    /// Left alone, with the reason.
    case skip(SkipReason)
}

/// The rules of a bidirectional run, as a pure function of (archived entry, A's entry, B's entry).
///
/// Each side is compared with the archive (the state both sides had after the last successful
/// sync), never only with the other side: a change is anything that differs from the archive,
/// including an mtime that went back (a restore). The full table is in
/// `docs/comparison-rules.md`; `BidirectionalRulesTests` checks every row.
public struct BidirectionalRules: Sendable, Hashable {
    /// Modification times closer than this count as equal.
    public var mtimeThresholdNanoseconds: Int64

    public init(mtimeThresholdNanoseconds: Int64 = 2_000_000_000) {
        precondition(mtimeThresholdNanoseconds >= 0, "the mtime threshold cannot be negative")
        self.mtimeThresholdNanoseconds = mtimeThresholdNanoseconds
    }

    /// Decides one path.
    public func decide(archived: Entry?, a: Entry?, b: Entry?) -> BidirectionalDecision {
        if a?.kind == .other || b?.kind == .other { return .skip(.unsupportedKind) }
        switch (a, b) {
        case (nil, nil):
            return archived == nil ? .inSync : .forget
        case (let present?, nil):
            return onlyOn(.a, present, archived: archived)
        case (nil, let present?):
            return onlyOn(.b, present, archived: archived)
        case (let a?, let b?):
            return both(a, b, archived: archived)
        }
    }

    private func onlyOn(_ side: Side, _ entry: Entry, archived: Entry?) -> BidirectionalDecision {
        guard let archived else { return .copy(to: side.other) }  // new on this side
        if entry.kind == .directory && archived.kind == .directory {
            // Deleted as a folder on the other side: what changed inside survives, the rest goes.
            return .directoryDeleted(present: side)
        }
        // Deleted on the other side: unchanged here → delete; changed here → it survives.
        return differs(entry, archived) ? .copy(to: side.other) : .delete(on: side)
    }

    private func both(_ a: Entry, _ b: Entry, archived: Entry?) -> BidirectionalDecision {
        if a.kind == .directory && b.kind == .directory { return .bothDirectories }
        if a.kind == .directory || b.kind == .directory {
            // A folder on one side, a file or link on the other. The folder may replace the other
            // side's entry only if that entry is the archived one (nothing is lost); replacing
            // a folder would delete what it holds, so a person decides.
            let other = a.kind == .directory ? b : a
            let folderSide: Side = a.kind == .directory ? .a : .b
            if let archived, !differs(other, archived) { return .copy(to: folderSide.other) }
            return .skip(.kindConflict)
        }
        if !differs(a, b) { return .inSync }
        let aChanged = archived.map { differs(a, $0) } ?? true
        let bChanged = archived.map { differs(b, $0) } ?? true
        switch (aChanged, bChanged) {
        case (true, false):
            return oneSided(from: a, to: b, target: .b)
        case (false, true):
            return oneSided(from: b, to: a, target: .a)
        default:
            // Both changed, or neither differs from the archive yet they differ from each other
            // (only possible within the threshold): treat as changed on both.
            let newer = newerSide(a, b)
            if a.kind == .file && b.kind == .file && a.size == b.size { return .compareBoth(newer: newer) }
            return .conflict(winner: newer ?? .a, tie: newer == nil)
        }
    }

    private func oneSided(from changed: Entry, to other: Entry, target: Side) -> BidirectionalDecision {
        if changed.kind == .file && other.kind == .file && changed.size == other.size && changed.permissions == other.permissions {
            return .compareThenCopy(to: target)
        }
        return .copy(to: target)
    }

    /// The side whose entry is newer beyond the threshold, `nil` for a tie.
    public func newerSide(_ a: Entry, _ b: Entry) -> Side? {
        let delta = a.modified.nanoseconds(since: b.modified)
        if delta > mtimeThresholdNanoseconds { return .a }
        if delta < -mtimeThresholdNanoseconds { return .b }
        return nil
    }

    /// Whether two entries of one path are different versions: kind, size, mtime beyond the
    /// threshold, permissions or link target. A folder's mtime and permissions follow its
    /// content and are not compared.
    public func differs(_ lhs: Entry, _ rhs: Entry) -> Bool {
        guard lhs.kind == rhs.kind else { return true }
        switch lhs.kind {
        case .file:
            return lhs.size != rhs.size || lhs.permissions != rhs.permissions
                || abs(lhs.modified.nanoseconds(since: rhs.modified)) > mtimeThresholdNanoseconds
        case .symlink:
            return lhs.symlinkTarget != rhs.symlinkTarget
        case .directory, .other:
            return false
        }
    }

    /// What settles a ``BidirectionalDecision/compareBoth(newer:)`` once both sides are hashed.
    public func resolveBoth(sameContent: Bool, newer: Side?) -> BidirectionalDecision {
        if sameContent { return .inSync }
        return .conflict(winner: newer ?? .a, tie: newer == nil)
    }
}
