/// An older copy of a file, at the receiving end of a copy, that a delta transfer rebuilds
/// the new content from.
public protocol BasisFile: AnyObject {
    /// The old copy's size when it was opened.
    var size: Int64 { get }

    /// Reads up to `buffer.count` bytes at `offset`; 0 at the end of the file.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// A reader that can take part of its content from the destination's old copy of the file
/// (a remote peer sends only the blocks that changed).
public protocol DeltaFileReader: FileReader {
    /// Offered by the writing tree before it asks for ``FileReader/attributes`` or reads,
    /// when a regular file of at least ``deltaBasisMinimumSize`` bytes is at the final name.
    func useBasis(_ basis: any BasisFile)
}

/// Below this size an old copy is not worth a delta: sending the file costs about as much
/// as the checksums and a round trip.
public let deltaBasisMinimumSize: Int64 = 1 << 20
