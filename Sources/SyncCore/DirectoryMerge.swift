/// Merges two directory listings, each sorted by name bytes, into pairs of entries with the same name.
public enum DirectoryMerge {
    /// Calls `body` once per name present on either side, in name order.
    public static func merge(
        source: [Entry],
        destination: [Entry],
        _ body: (_ source: Entry?, _ destination: Entry?) throws -> Void
    ) rethrows {
        var sourceIndex = 0
        var destinationIndex = 0
        while sourceIndex < source.count || destinationIndex < destination.count {
            if sourceIndex == source.count {
                try body(nil, destination[destinationIndex])
                destinationIndex += 1
            } else if destinationIndex == destination.count {
                try body(source[sourceIndex], nil)
                sourceIndex += 1
            } else {
                let sourceEntry = source[sourceIndex]
                let destinationEntry = destination[destinationIndex]
                if sourceEntry.name == destinationEntry.name {
                    try body(sourceEntry, destinationEntry)
                    sourceIndex += 1
                    destinationIndex += 1
                } else if sourceEntry.name.lexicographicallyPrecedes(destinationEntry.name) {
                    try body(sourceEntry, nil)
                    sourceIndex += 1
                } else {
                    try body(nil, destinationEntry)
                    destinationIndex += 1
                }
            }
        }
    }

    /// Sorts a listing the way ``merge(source:destination:_:)`` expects.
    public static func sort(_ entries: inout [Entry]) {
        entries.sort { $0.name.lexicographicallyPrecedes($1.name) }
    }
}
