public import SyncCore

/// Options for copying one file.
public struct CopyOptions: Sendable, Hashable {
    /// Hash the source while copying and re-read the written copy to check it.
    public var verify: Bool
    /// `fsync` each file before it is renamed into place.
    public var fsync: Bool
    /// What must be at the final name just before the rename; anything else fails the copy
    /// with ``SyncTreeError/Code/targetChanged`` and leaves the target alone.
    public var expectedTarget: ExpectedTarget
    /// Leave the complete copy under its temporary name (`--delay-updates`): the report says
    /// which, and ``StagingSyncTree/publishStaged(_:as:)`` renames it into place later.
    public var stageOnly = false

    public init(verify: Bool = false, fsync: Bool = false, expectedTarget: ExpectedTarget = .unchecked) {
        self.verify = verify
        self.fsync = fsync
        self.expectedTarget = expectedTarget
    }
}

/// What a write expects to replace. A bidirectional run writes onto a side that people also
/// write to: re-checking the target right before the rename keeps a file saved meanwhile.
public enum ExpectedTarget: Sendable, Hashable {
    /// Replace whatever is there (one-way mode: the destination belongs to the sync).
    case unchecked
    /// Nothing may be at the name.
    case absent
    /// The entry listed earlier, unchanged: same kind, size and mtime.
    case unchanged(Entry)

    /// Whether `current` (what the name holds now) is what was expected.
    public func matches(_ current: Entry?) -> Bool {
        switch self {
        case .unchecked: return true
        case .absent: return current == nil
        case .unchanged(let expected):
            guard let current else { return false }
            return current.kind == expected.kind && current.size == expected.size && current.modified == expected.modified
        }
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
    /// With ``CopyOptions/stageOnly``: the temporary name the complete copy waits under, in the file's folder.
    public var stagedName: [UInt8]?

    public init(bytesCopied: Int64, size: Int64, modified: Timestamp, md5: String? = nil) {
        self.bytesCopied = bytesCopied
        self.size = size
        self.modified = modified
        self.md5 = md5
    }
}

/// What a copy carries over besides the bytes.
public struct FileAttributes: Sendable, Hashable {
    public var size: Int64
    public var modified: Timestamp
    /// Permission bits (`st_mode & 0o7777`).
    public var permissions: UInt32
    /// Owner and group, where the tree knows them; a writer running as root keeps them.
    public var owner: UInt32?
    public var group: UInt32?

    public init(size: Int64, modified: Timestamp, permissions: UInt32, owner: UInt32? = nil, group: UInt32? = nil) {
        self.size = size
        self.modified = modified
        self.permissions = permissions
        self.owner = owner
        self.group = group
    }
}

/// A file opened on one tree for a copy into another, read once from start to end.
///
/// The reader is the source half of every copy: a destination tree pulls the bytes through
/// it into its own atomic writer, so any tree can be copied into any other. Closing happens
/// when the reader is released.
public protocol FileReader: AnyObject {
    /// The file as it was when opened.
    var attributes: FileAttributes { get }

    /// Reads the next bytes into `buffer`; returns how many, 0 at the end of the file.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int

    /// Throws ``SyncTreeError/Code/sourceChanged`` if the file changed since it was opened
    /// (size, mtime or change time), so a copy of a file being written is never committed.
    func checkUnchanged() throws

    /// The signatures of this file's own blocks, when they were computed with its digest
    /// (``KeptSignatures``): a delta sender then matches whole blocks without hashing them again.
    var keptSignatures: BlockSignatures? { get }

    /// Whether ``checkUnchanged()`` also proves the file still holds exactly
    /// `attributes.size` bytes, so a reader may stop there without the call that finds the end.
    var checksSize: Bool { get }
}

extension FileReader {
    public var keptSignatures: BlockSignatures? { nil }
    public var checksSize: Bool { false }
}

/// A tree of files that the engine can list, read and write: the local file system
/// (`LocalTree`), memory (``InMemoryTree``), later a remote peer.
///
/// Paths are always relative to the tree's root, and implementations must never follow a
/// symlink inside the tree. The methods block: the engine calls them from its own I/O thread
/// pool, never from Swift's cooperative pool, and hands a whole directory or batch of files to
/// one thread, which keeps the per-file cost of a local tree at a function call. A network
/// tree waits on its own event loop from that thread.
public protocol SyncTree: Sendable {
    /// How the tree is shown to users (the root path, or the peer's address).
    var displayName: String { get }

    /// Lists a directory.
    func list(_ directory: RelativePath) throws -> DirectoryListing

    /// Lists a directory's names and kinds only: sizes, times and link targets may be left
    /// empty. The delete guards' survey needs no more, and on NFS a listing's kinds come with
    /// the directory read while every other attribute costs a round trip per name.
    func listKinds(_ directory: RelativePath) throws -> DirectoryListing

    /// MD5 of a file's content, as 32 lowercase hex digits.
    func md5(of path: RelativePath) throws -> String

    /// MD5 of a file's content; with `preparingDelta`, a tree that can also computes the
    /// file's block signatures in the same read and keeps them for a delta transfer of this
    /// file (as its sender or as its receiver), which usually follows a differing digest.
    func md5(of path: RelativePath, preparingDelta: Bool) throws -> String

    /// The ``BlockDigest`` of a file's content under `key`, in its text form: what a large
    /// file is compared by across a network. A tree that can also keeps the file's block
    /// signatures from the same read for the delta transfer that usually follows a differing
    /// digest.
    func blockDigest(of path: RelativePath, key: BlockKey) throws -> String

    /// Opens a regular file for a copy. A missing file throws ``SyncTreeError/Code/notFound``
    /// with the operation ``SyncTreeError/openSource``.
    func openFile(_ path: RelativePath) throws -> any FileReader

    /// Writes what `reader` holds at `path`, atomically: the final name shows the old content
    /// or the complete new one, never a partial file, and nothing is renamed into place if the
    /// reader's file changed meanwhile. Size, mtime and permissions come from the reader.
    /// `shouldStop` is polled during the copy; when it returns true the copy is abandoned,
    /// its temporary file removed, and ``SyncTreeError/Code/interrupted`` thrown.
    func receiveFile(_ path: RelativePath, from reader: any FileReader, options: CopyOptions, shouldStop: @Sendable () -> Bool) throws -> CopyReport

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

    /// The entry at `path` now (never following a symlink), `nil` if there is none.
    /// Symlink targets may be left out.
    func entry(at path: RelativePath) throws -> Entry?

    /// Renames an entry within its directory tree, failing with
    /// ``SyncTreeError/Code/alreadyExists`` rather than replacing anything at `newPath`, and
    /// with ``SyncTreeError/Code/targetChanged`` if `path` no longer holds `expected`.
    func rename(_ path: RelativePath, to newPath: RelativePath, expected: Entry) throws

    /// Keeps the file or symlink at `path` as `versionPath` (creating its folders), without
    /// copying: with `keepOriginal` a hard link (the name keeps its content until a write
    /// replaces it), falling back to a rename where links are not possible; otherwise a
    /// rename. Fails with ``SyncTreeError/Code/alreadyExists`` if `versionPath` is taken, and
    /// with ``SyncTreeError/Code/targetChanged`` if `path` no longer holds `expected`.
    func keepVersion(of path: RelativePath, as versionPath: RelativePath, expected: Entry, keepOriginal: Bool) throws
}

extension SyncTree {
    /// Trees that cannot tell kinds more cheaply list in full.
    public func listKinds(_ directory: RelativePath) throws -> DirectoryListing {
        try list(directory)
    }

    /// Trees without delta transfers only read the digest.
    public func md5(of path: RelativePath, preparingDelta: Bool) throws -> String {
        try md5(of: path)
    }

    /// Trees without delta transfers read the file through a reader.
    public func blockDigest(of path: RelativePath, key: BlockKey) throws -> String {
        try readingBlockDigest(of: path, key: key)
    }

    /// The ``BlockDigest`` of the file at `path`, read through ``openFile(_:)``.
    public func readingBlockDigest(of path: RelativePath, key: BlockKey) throws -> String {
        let reader = try openFile(path)
        let size = reader.attributes.size
        var digest = BlockDigest(size: size, blockSize: BlockSignatures.blockSize(forFileSize: size), key: key)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try reader.read(into: buffer)
            if count == 0 { break }
            digest.add(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
        try reader.checkUnchanged()
        return BlockDigest.text(digest.finalize())
    }
}

/// A file to receive in a batch: its path, and how to open its source when its turn comes
/// (one source file open at a time).
public struct IncomingFile {
    public var path: RelativePath
    public var open: () throws -> any FileReader
    /// What this file's write expects at its name, when it differs from the batch's options
    /// (a both-ways run replaces each file only if it still holds what was listed).
    public var expectedTarget: ExpectedTarget?

    public init(path: RelativePath, expectedTarget: ExpectedTarget? = nil, open: @escaping () throws -> any FileReader) {
        self.path = path
        self.expectedTarget = expectedTarget
        self.open = open
    }

    /// The batch's options with this file's expectation.
    public func options(_ batch: CopyOptions) -> CopyOptions {
        guard let expectedTarget else { return batch }
        var options = batch
        options.expectedTarget = expectedTarget
        return options
    }
}

/// Batched transfers: a tree reached over a network copies many small files in one
/// exchange instead of one round trip each. Local trees keep the defaults, which are
/// exactly the one-by-one calls.
extension SyncTree {
    /// Whether the engine should hand this tree's copies over in batches.
    public var batchesTransfers: Bool {
        (self as? any BatchingSyncTree)?.prefersBatches ?? false
    }

    /// For a tree across a network, the time one exchange with it takes, in microseconds: a
    /// listing there costs one round trip whatever the folder's size, which the engine's
    /// per-entry latency estimate cannot see.
    public var exchangeMicros: Double? {
        (self as? any BatchingSyncTree)?.roundTripMicros
    }

    /// A hint that these files (with their listed sizes) are about to be opened, in this order.
    public func prefetch(_ files: [(path: RelativePath, size: Int64)]) {
        (self as? any BatchingSyncTree)?.prefetchFiles(files)
    }

    /// Receives files in order, calling `completed` with each one's index and outcome as it is
    /// done (on the calling thread). Stops early, without calling `completed` for the rest,
    /// once `shouldStop` returns true.
    public func receiveFiles(
        _ files: [IncomingFile], options: CopyOptions, shouldStop: @Sendable () -> Bool,
        completed: (Int, Result<CopyReport, any Error>) -> Void
    ) {
        if let batching = self as? any BatchingSyncTree {
            batching.receiveBatch(files, options: options, shouldStop: shouldStop, completed: completed)
            return
        }
        for (index, file) in files.enumerated() {
            if shouldStop() { return }
            do {
                let reader = try file.open()
                completed(index, .success(try receiveFile(file.path, from: reader, options: file.options(options), shouldStop: shouldStop)))
            } catch {
                completed(index, .failure(error))
            }
        }
    }
}

/// A tree that moves files in batches (a remote peer).
public protocol BatchingSyncTree: SyncTree {
    var prefersBatches: Bool { get }
    /// The time one small exchange takes, in microseconds (`nil` before any was timed).
    var roundTripMicros: Double? { get }
    func prefetchFiles(_ files: [(path: RelativePath, size: Int64)])
    func receiveBatch(
        _ files: [IncomingFile], options: CopyOptions, shouldStop: @Sendable () -> Bool,
        completed: (Int, Result<CopyReport, any Error>) -> Void)
    /// The MD5 of each file, in order, in as few exchanges as the tree can.
    func digestBatch(_ paths: [RelativePath]) -> [Result<String, any Error>]
    /// Finishes each directory, in order, in as few exchanges as the tree can; `nil` for
    /// each that succeeded.
    func finishDirectoryBatch(_ directories: [FinishedDirectory]) -> [(any Error)?]
    /// Creates each directory, in order, in as few exchanges as the tree can; `nil` for each
    /// that succeeded.
    func makeDirectoryBatch(_ directories: [NewDirectory]) -> [(any Error)?]
    /// Calls `visit` with the listing of every folder of the subtree at `root`, in as few
    /// exchanges as the tree can; folders that cannot be listed are left out.
    func listSubtree(_ root: RelativePath, _ visit: (RelativePath, DirectoryListing) -> Void)
    /// Keeps each version, in order, in as few exchanges as the tree can; for each, whether
    /// the original is still at its name (see ``SyncTree/keepVersions(_:)``).
    func keepVersionBatch(_ versions: [VersionToKeep]) -> [Result<Bool, any Error>]
}

/// A version to keep before its file is replaced or deleted (see
/// ``SyncTree/keepVersion(of:as:expected:keepOriginal:)``).
public struct VersionToKeep: Sendable, Equatable {
    public var path: RelativePath
    public var versionPath: RelativePath
    public var expected: Entry
    public var keepOriginal: Bool

    public init(path: RelativePath, versionPath: RelativePath, expected: Entry, keepOriginal: Bool) {
        self.path = path
        self.versionPath = versionPath
        self.expected = expected
        self.keepOriginal = keepOriginal
    }
}

/// A directory to create, and what it replaces (see ``SyncTree/makeDirectory(_:replacing:)``).
public struct NewDirectory: Sendable, Equatable {
    public var path: RelativePath
    public var replacing: EntryKind?

    public init(path: RelativePath, replacing: EntryKind? = nil) {
        self.path = path
        self.replacing = replacing
    }
}

/// A directory whose content is in place, with the permissions and mtime it gets last.
public struct FinishedDirectory: Sendable, Equatable {
    public var path: RelativePath
    public var permissions: UInt32
    public var modified: Timestamp

    public init(path: RelativePath, permissions: UInt32, modified: Timestamp) {
        self.path = path
        self.permissions = permissions
        self.modified = modified
    }
}

/// A batching tree that has nothing better makes the calls one by one.
extension BatchingSyncTree {
    public func digestBatch(_ paths: [RelativePath]) -> [Result<String, any Error>] {
        paths.map { path in Result { try md5(of: path) } }
    }

    public func finishDirectoryBatch(_ directories: [FinishedDirectory]) -> [(any Error)?] {
        directories.map { directory in
            Result { try finishDirectory(directory.path, permissions: directory.permissions, modified: directory.modified) }.failure
        }
    }

    public func makeDirectoryBatch(_ directories: [NewDirectory]) -> [(any Error)?] {
        directories.map { directory in Result { try makeDirectory(directory.path, replacing: directory.replacing) }.failure }
    }

    public func listSubtree(_ root: RelativePath, _ visit: (RelativePath, DirectoryListing) -> Void) {
        listEachFolder(below: [root], visit)
    }

    public func keepVersionBatch(_ versions: [VersionToKeep]) -> [Result<Bool, any Error>] {
        versions.map(keepOneVersion)
    }
}

/// Calls that a tree across a network answers for many paths at once, and any other tree
/// one path at a time.
extension SyncTree {
    /// The MD5 of each file, in order.
    public func md5s(of paths: [RelativePath]) -> [Result<String, any Error>] {
        if paths.count > 1, let batching = self as? any BatchingSyncTree { return batching.digestBatch(paths) }
        return paths.map { path in Result { try md5(of: path) } }
    }

    /// Calls `visit` with the listing of every folder of the subtree at `root` (depth first);
    /// folders that cannot be listed are left out.
    public func visitListings(under root: RelativePath, _ visit: (RelativePath, DirectoryListing) -> Void) {
        if let batching = self as? any BatchingSyncTree {
            batching.listSubtree(root, visit)
        } else {
            listEachFolder(below: [root], visit)
        }
    }

    /// Lists `folders` and everything below them one folder at a time.
    public func listEachFolder(below folders: [RelativePath], _ visit: (RelativePath, DirectoryListing) -> Void) {
        var pending = folders
        while let folder = pending.popLast() {
            guard let listing = try? list(folder) else { continue }
            visit(folder, listing)
            for entry in listing.entries.reversed() where entry.kind == .directory { pending.append(folder.appending(entry.name)) }
        }
    }

    /// Creates each directory (in order: a parent before its children); `nil` for each that succeeded.
    public func makeDirectories(_ directories: [NewDirectory]) -> [(any Error)?] {
        if directories.count > 1, let batching = self as? any BatchingSyncTree { return batching.makeDirectoryBatch(directories) }
        return directories.map { directory in Result { try makeDirectory(directory.path, replacing: directory.replacing) }.failure }
    }

    /// Keeps each version (in order); for each, whether the original is still at its name:
    /// `false` after a move, whether asked for or the fallback where no hard link was possible.
    public func keepVersions(_ versions: [VersionToKeep]) -> [Result<Bool, any Error>] {
        if versions.count > 1, let batching = self as? any BatchingSyncTree { return batching.keepVersionBatch(versions) }
        return versions.map(keepOneVersion)
    }

    /// One version kept, and whether its original is still in place.
    public func keepOneVersion(_ version: VersionToKeep) -> Result<Bool, any Error> {
        Result {
            try keepVersion(of: version.path, as: version.versionPath, expected: version.expected, keepOriginal: version.keepOriginal)
            return version.keepOriginal ? try entry(at: version.path) != nil : false
        }
    }

    /// Sets each directory's permissions and mtime; `nil` for each that succeeded.
    public func finishDirectories(_ directories: [FinishedDirectory]) -> [(any Error)?] {
        if directories.count > 1, let batching = self as? any BatchingSyncTree { return batching.finishDirectoryBatch(directories) }
        return directories.map { directory in
            Result { try finishDirectory(directory.path, permissions: directory.permissions, modified: directory.modified) }.failure
        }
    }
}

extension Result {
    /// The error of a failure, `nil` for a success.
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// A tree that can hold complete copies under temporary names and rename them into place
/// later, all together (`--delay-updates`). A killed run leaves only temporary files, which
/// the next run removes.
public protocol StagingSyncTree: SyncTree {
    /// Whether copies can be staged (a wrapper answers for what it wraps).
    var stagesCopies: Bool { get }
    /// Renames a staged copy (in `path`'s folder) to `path`, replacing what is there.
    func publishStaged(_ temporaryName: [UInt8], as path: RelativePath) throws
}

extension SyncTree {
    /// Whether the tree can stage copies for `--delay-updates`.
    public var supportsStaging: Bool {
        (self as? any StagingSyncTree)?.stagesCopies ?? false
    }

    /// Publishes a staged copy; trees that cannot stage never have one.
    public func publishStaged(_ temporaryName: [UInt8], as path: RelativePath) throws {
        guard let staging = self as? any StagingSyncTree else {
            throw SyncTreeError(code: .io, operation: "publish", path: path, detail: "\(displayName) cannot hold staged copies")
        }
        try staging.publishStaged(temporaryName, as: path)
    }
}
