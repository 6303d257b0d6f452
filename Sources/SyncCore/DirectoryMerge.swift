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
                let order = compare(sourceEntry.name, destinationEntry.name)
                if order == 0 {
                    try body(sourceEntry, destinationEntry)
                    sourceIndex += 1
                    destinationIndex += 1
                } else if order < 0 {
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
        entries.sort { compare($0.name, $1.name) < 0 }
    }

    /// Byte-wise three-way comparison of two names: negative, zero or positive.
    @inlinable
    public static func compare(_ lhs: [UInt8], _ rhs: [UInt8]) -> Int {
        lhs.withUnsafeBufferPointer { left in
            rhs.withUnsafeBufferPointer { right in
                let shared = Swift.min(left.count, right.count)
                var index = 0
                while index < shared {
                    let difference = Int(left[index]) - Int(right[index])
                    if difference != 0 { return difference }
                    index += 1
                }
                return left.count - right.count
            }
        }
    }
}
