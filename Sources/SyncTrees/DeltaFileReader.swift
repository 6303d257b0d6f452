/// An older copy of a file, at the receiving end of a copy, that a delta transfer rebuilds
/// the new content from.
public protocol BasisFile: AnyObject {
    /// The old copy's size when it was opened.
    var size: Int64 { get }

    /// Reads up to `buffer.count` bytes at `offset`; 0 at the end of the file.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int

    /// Which version of the file this is, read now: equal values mean the same unchanged
    /// file (so what was computed from its content still holds); nil when it cannot be told.
    func currentVersion() -> FileVersion?

    /// Its signatures, when they were computed with its digest (``KeptSignatures``).
    var keptSignatures: BlockSignatures? { get }

    /// The version ``keptSignatures`` hold for: a receiver that takes a block's hash from
    /// them instead of hashing what it copied checks the file is still this version.
    var keptVersion: FileVersion? { get }
}

extension BasisFile {
    public func currentVersion() -> FileVersion? { nil }
    public var keptSignatures: BlockSignatures? { nil }
    public var keptVersion: FileVersion? { nil }
}

/// One version of one file: its identity (device and inode) and what any change to it
/// changes (size, modification and status-change times).
public struct FileVersion: Sendable, Hashable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var modifiedNanoseconds: Int64
    public var changedNanoseconds: Int64

    public init(device: UInt64, inode: UInt64, size: Int64, modifiedNanoseconds: Int64, changedNanoseconds: Int64) {
        self.device = device
        self.inode = inode
        self.size = size
        self.modifiedNanoseconds = modifiedNanoseconds
        self.changedNanoseconds = changedNanoseconds
    }
}

/// A reader that can take part of its content from the destination's old copy of the file
/// (a remote peer sends only the blocks that changed).
public protocol DeltaFileReader: FileReader {
    /// Offered by the writing tree before it asks for ``FileReader/attributes`` or reads,
    /// when a regular file of at least ``deltaBasisMinimumSize`` bytes is at the final name.
    func useBasis(_ basis: any BasisFile)

    /// Whether this content can refer to an old copy at all; when not, the writing tree does
    /// not look for one (for a new file, a lookup of a name that is not there).
    var wantsBasis: Bool { get }

    /// When the next bytes are a run of whole blocks of the basis whose hashes the content's
    /// verification takes from the basis's kept signatures, their place in the basis (at most
    /// `limit` bytes): the writing tree copies them itself, in the kernel, and they count as
    /// read. `nil` when the next bytes must be read.
    func takeBasisRun(limit: Int64) throws -> (offset: Int64, length: Int64)?
}

extension DeltaFileReader {
    public var wantsBasis: Bool { true }
    public func takeBasisRun(limit: Int64) throws -> (offset: Int64, length: Int64)? { nil }
}

/// Below this size an old copy is not worth a delta: sending the file costs about as much
/// as the checksums and a round trip.
public let deltaBasisMinimumSize: Int64 = 1 << 20
