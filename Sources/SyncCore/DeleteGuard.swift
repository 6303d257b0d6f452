/// The checks that stand between `--delete-missing` and an emptied replica.
public struct DeleteGuard: Sendable, Hashable {
    /// Largest share of the destination's non-directory entries one run may delete, in percent.
    public var maxDeletePercent: Int

    public init(maxDeletePercent: Int = 50) {
        self.maxDeletePercent = maxDeletePercent
    }

    public enum Verdict: Sendable, Hashable {
        case allow
        /// The source root has no entries while the destination has some: most likely an
        /// unmounted or wiped source, never a reason to wipe the destination.
        case refuseEmptySource(destinationEntries: Int)
        /// The run would delete more than the allowed share of the destination's files.
        case refuseTooMany(deletes: Int, destinationFiles: Int, maxPercent: Int)
        /// Bidirectional: one side's root is empty while the archive says it held entries.
        case refuseEmptySide(root: String, archivedEntries: Int)
        /// Bidirectional: the run would delete more than the allowed share of the archived files on one side.
        case refuseTooManyOnSide(root: String, deletes: Int, archivedFiles: Int, maxPercent: Int)
    }

    /// The bidirectional form: each side is measured against the archive (what both sides held
    /// after the last sync), and deletes on either side count; new files count for nothing.
    /// - Parameters:
    ///   - rootEntries: entries in each side's root now, with the side's root for the message.
    ///   - plannedFileDeletes: files and symlinks the run would delete on each side.
    public func checkBidirectional(
        sides: [(root: String, rootEntries: Int, plannedFileDeletes: Int)],
        archivedRootEntries: Int,
        archivedFiles: Int
    ) -> Verdict {
        for side in sides where side.rootEntries == 0 && archivedRootEntries > 0 {
            return .refuseEmptySide(root: side.root, archivedEntries: archivedRootEntries)
        }
        guard maxDeletePercent < 100 else { return .allow }
        for side in sides where side.plannedFileDeletes > 0 && side.plannedFileDeletes * 100 > maxDeletePercent * max(archivedFiles, 1) {
            return .refuseTooManyOnSide(root: side.root, deletes: side.plannedFileDeletes, archivedFiles: archivedFiles, maxPercent: maxDeletePercent)
        }
        return .allow
    }

    /// Decides whether the planned deletes may go ahead.
    public func check(sourceRootEntries: Int, destinationRootEntries: Int, plannedFileDeletes: Int, destinationFiles: Int) -> Verdict {
        if sourceRootEntries == 0 && destinationRootEntries > 0 {
            return .refuseEmptySource(destinationEntries: destinationRootEntries)
        }
        guard plannedFileDeletes > 0, maxDeletePercent < 100 else { return .allow }
        // Integer form of deletes / files > max%, without rounding surprises.
        if plannedFileDeletes * 100 > maxDeletePercent * max(destinationFiles, 1) {
            return .refuseTooMany(deletes: plannedFileDeletes, destinationFiles: destinationFiles, maxPercent: maxDeletePercent)
        }
        return .allow
    }
}

extension DeleteGuard.Verdict {
    /// One line for the user: what was found and how to override it.
    public var message: String? {
        switch self {
        case .allow:
            return nil
        case .refuseEmptySource(let count):
            return "refusing to delete: the source directory is empty but the destination has \(count) entries "
                + "(is the source mounted?); nothing was changed. Run without --delete-missing to copy only."
        case .refuseTooMany(let deletes, let files, let maxPercent):
            let percent = files == 0 ? 100 : deletes * 100 / files
            return "refusing to delete: the run would delete \(deletes) of \(files) files on the destination (\(percent)%), "
                + "more than --max-delete \(maxPercent)%; nothing was changed. Check the source, then rerun with --max-delete \(min(100, percent + 1)) or higher."
        case .refuseEmptySide(let root, let count):
            return "refusing to sync: \(root) is empty but held \(count) entries at the last sync (is it mounted?); "
                + "nothing was changed on either side. The next run proceeds once the files are back."
        case .refuseTooManyOnSide(let root, let deletes, let files, let maxPercent):
            let percent = files == 0 ? 100 : deletes * 100 / files
            return "refusing to delete: the run would delete \(deletes) of the pair's \(files) files in \(root) (\(percent)%), "
                + "more than --max-delete \(maxPercent)%; nothing was changed on either side. Check the other side, "
                + "then rerun with --max-delete \(min(100, percent + 1)) or higher."
        }
    }
}
