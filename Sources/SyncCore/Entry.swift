/// What kind of object a directory entry is. Symlinks are never followed.
public enum EntryKind: String, Sendable, Hashable, Codable {
    case file
    case directory
    case symlink
    /// FIFOs, sockets and device nodes: never synced.
    case other
}

/// One entry of a directory listing: what the comparison rules need to know about it.
///
/// Kept small on purpose: listings of large directories hold one of these per name.
public struct Entry: Sendable, Hashable {
    public var name: [UInt8]
    public var kind: EntryKind
    /// Bytes for files; length of the target for symlinks; 0 otherwise.
    public var size: Int64
    public var modified: Timestamp
    /// Permission bits (`st_mode & 0o7777`).
    public var permissions: UInt32
    /// The link target for symlinks, read during the listing.
    public var symlinkTarget: [UInt8]?

    public init(
        name: [UInt8],
        kind: EntryKind,
        size: Int64 = 0,
        modified: Timestamp,
        permissions: UInt32 = 0o644,
        symlinkTarget: [UInt8]? = nil
    ) {
        self.name = name
        self.kind = kind
        self.size = size
        self.modified = modified
        self.permissions = permissions
        self.symlinkTarget = symlinkTarget
    }
}
