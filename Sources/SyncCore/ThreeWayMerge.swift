/// Merges three listings of one folder (side A, side B, the archive), each sorted by name
/// bytes, into the entries each holds under one name.
public enum ThreeWayMerge {
    /// Calls `body` once per name present in any of the three, in name order.
    public static func merge(
        _ a: [Entry],
        _ b: [Entry],
        _ archived: [Entry],
        _ body: (_ a: Entry?, _ b: Entry?, _ archived: Entry?) throws -> Void
    ) rethrows {
        var indices = (0, 0, 0)
        while indices.0 < a.count || indices.1 < b.count || indices.2 < archived.count {
            // The smallest name among the three heads.
            var smallest: [UInt8]?
            for candidate in [
                indices.0 < a.count ? a[indices.0].name : nil, indices.1 < b.count ? b[indices.1].name : nil,
                indices.2 < archived.count ? archived[indices.2].name : nil,
            ] {
                guard let candidate else { continue }
                if smallest == nil || DirectoryMerge.compare(candidate, smallest!) < 0 { smallest = candidate }
            }
            let name = smallest!
            var aEntry: Entry?
            var bEntry: Entry?
            var archivedEntry: Entry?
            if indices.0 < a.count && a[indices.0].name == name {
                aEntry = a[indices.0]
                indices.0 += 1
            }
            if indices.1 < b.count && b[indices.1].name == name {
                bEntry = b[indices.1]
                indices.1 += 1
            }
            if indices.2 < archived.count && archived[indices.2].name == name {
                archivedEntry = archived[indices.2]
                indices.2 += 1
            }
            try body(aEntry, bEntry, archivedEntry)
        }
    }
}
