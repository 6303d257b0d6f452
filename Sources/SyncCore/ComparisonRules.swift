/// The "newest mtime wins" rules of a one-way run, as a pure function.
///
/// The full table is in `docs/comparison-rules.md`; `ComparisonRulesTests` checks every row.
public struct ComparisonRules: Sendable, Hashable {
    /// Modification times closer than this count as equal (clock skew, coarse filesystems).
    public var mtimeThresholdNanoseconds: Int64
    /// Delete destination entries that are missing on the source.
    public var deleteMissing: Bool

    public init(mtimeThresholdNanoseconds: Int64 = 2_000_000_000, deleteMissing: Bool = false) {
        precondition(mtimeThresholdNanoseconds >= 0, "the mtime threshold cannot be negative")
        self.mtimeThresholdNanoseconds = mtimeThresholdNanoseconds
        self.deleteMissing = deleteMissing
    }

    /// Decides what to do with one path, from what each side has there.
    public func decide(source: Entry?, destination: Entry?) -> Verdict {
        guard let source else {
            guard let destination else { return Verdict(.skip(.inSync)) }
            guard deleteMissing else { return Verdict(.skip(.onlyOnDestination)) }
            return Verdict(.delete, descend: destination.kind == .directory ? .destinationOnly : .none)
        }
        if source.kind == .other {
            return Verdict(.skip(.unsupportedKind))
        }
        guard let destination else {
            return Verdict(.create, descend: source.kind == .directory ? .sourceOnly : .none)
        }
        let age = compareAge(source: source.modified, destination: destination.modified)

        switch (source.kind, destination.kind) {
        case (.directory, .directory):
            return Verdict(.skip(.bothDirectories), descend: .both)
        case (_, .other), (.file, .directory), (.symlink, .directory):
            return Verdict(.skip(.kindConflict))
        case (.file, .file):
            switch age {
            case .destinationNewer:
                return Verdict(.skip(.destinationNewer))
            case .equal:
                return Verdict(source.size == destination.size ? .skip(.inSync) : .update(.sizeDiffers))
            case .sourceNewer:
                return Verdict(source.size == destination.size ? .compareContent : .update(.sourceNewer))
            }
        case (.symlink, .symlink):
            if source.symlinkTarget == destination.symlinkTarget {
                return Verdict(.skip(.inSync))
            }
            return age == .destinationNewer ? Verdict(.skip(.destinationNewer)) : Verdict(.update(.symlinkTargetDiffers))
        case (.directory, _):
            // A file or symlink where the source has a directory: replace it, then fill the new directory.
            return age == .destinationNewer ? Verdict(.skip(.destinationNewer)) : Verdict(.update(.kindChanged), descend: .sourceOnly)
        case (.file, .symlink), (.symlink, .file):
            return age == .destinationNewer ? Verdict(.skip(.destinationNewer)) : Verdict(.update(.kindChanged))
        case (.other, _):
            return Verdict(.skip(.unsupportedKind))
        }
    }

    /// Resolves ``Action/compareContent`` once both sides are hashed.
    public func resolveComparison(sameContent: Bool) -> Action {
        sameContent ? .setModificationTime : .update(.contentDiffers)
    }

    enum Age { case sourceNewer, equal, destinationNewer }

    func compareAge(source: Timestamp, destination: Timestamp) -> Age {
        let delta = source.nanoseconds(since: destination)
        if delta > mtimeThresholdNanoseconds { return .sourceNewer }
        if delta < -mtimeThresholdNanoseconds { return .destinationNewer }
        return .equal
    }
}
