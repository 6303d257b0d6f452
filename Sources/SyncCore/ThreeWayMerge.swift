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
            if indices.0 < a.count { smallest = a[indices.0].name }
            if indices.1 < b.count, smallest == nil || DirectoryMerge.compare(b[indices.1].name, smallest!) < 0 {
                smallest = b[indices.1].name
            }
            if indices.2 < archived.count, smallest == nil || DirectoryMerge.compare(archived[indices.2].name, smallest!) < 0 {
                smallest = archived[indices.2].name
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
