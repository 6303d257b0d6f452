public import SyncCore

/// Options for copying one file.
public struct CopyOptions: Sendable, Hashable {
    /// Hash the source while copying and re-read the written copy to check it.
    public var verify: Bool
    /// `fsync` each file before it is renamed into place.
    public var fsync: Bool

    public init(verify: Bool = false, fsync: Bool = false) {
        self.verify = verify
        self.fsync = fsync
    }
}

/// What a finished copy did.
public struct CopyReport: Sendable, Hashable {
    public var bytesCopied: Int64
    /// The size and mtime of the source as copied (it may have changed since the listing).
    public var size: Int64
    public var modified: Timestamp
    /// MD5 of the copied data, when it was computed (`--verify`).
    public var md5: String?
}

/// A tree of files that the engine can list, read and write.
///
/// The local file system implements it today (``LocalTree``); a remote peer can implement it
/// later without the engine changing. Paths are always relative to the tree's root, and
/// implementations must never follow a symlink inside the tree.
public protocol SyncTree: Sendable {
    /// How the tree is shown to users (the root path).
    var displayName: String { get }

    /// Lists a directory.
    func list(_ directory: RelativePath) throws -> DirectoryListing

    /// MD5 of a file's content, as 32 lowercase hex digits.
    func md5(of path: RelativePath) throws -> String

    /// Copies the file at `path` of `source` to the same path here, atomically: the final name
    /// shows the old content or the complete new one, never a partial file. `shouldStop` is
    /// polled during the copy; when it returns true the copy is abandoned and its temp file removed.
    func copyFile(_ path: RelativePath, from source: Self, options: CopyOptions, shouldStop: @Sendable () -> Bool) throws -> CopyReport

    /// Creates a directory (replacing a file or symlink when `replacing` says so).
    /// Permissions and mtime are set later by ``finishDirectory(_:permissions:modified:)``.
    func makeDirectory(_ path: RelativePath, replacing: EntryKind?) throws

    /// Sets a directory's permissions and mtime, once its content is in place.
    func finishDirectory(_ path: RelativePath, permissions: UInt32, modified: Timestamp) throws

    /// Creates or atomically replaces a symlink.
    func makeSymlink(_ path: RelativePath, target: [UInt8], modified: Timestamp) throws

    /// Removes a file, symlink or empty directory.
    func remove(_ path: RelativePath, kind: EntryKind) throws

    /// Sets the mtime of an entry without touching its content.
    func setModificationTime(_ path: RelativePath, to modified: Timestamp) throws

    /// Removes a temporary file left by a killed run.
    func removeTemporaryFile(named name: [UInt8], in directory: RelativePath) throws
}
