public import SyncCore

/// A tree that passes every call to another one: wrappers implement only the calls they
/// change (``SharedSourceTree`` its listings, test trees a fault) and take the rest from here.
public protocol ForwardingSyncTree: SyncTree {
    /// The tree the calls go to.
    var forwarded: any SyncTree { get }
}

extension ForwardingSyncTree {
    public var displayName: String { forwarded.displayName }
    public func list(_ directory: RelativePath) throws -> DirectoryListing { try forwarded.list(directory) }
    public func listKinds(_ directory: RelativePath) throws -> DirectoryListing { try forwarded.listKinds(directory) }
    public func md5(of path: RelativePath) throws -> String { try forwarded.md5(of: path) }
    public func blockDigest(of path: RelativePath, key: BlockKey) throws -> String { try forwarded.blockDigest(of: path, key: key) }
    public func md5(of path: RelativePath, preparingDelta: Bool) throws -> String {
        try forwarded.md5(of: path, preparingDelta: preparingDelta)
    }
    public func openFile(_ path: RelativePath) throws -> any FileReader { try forwarded.openFile(path) }

    public func receiveFile(_ path: RelativePath, from reader: any FileReader, options: CopyOptions, shouldStop: @Sendable () -> Bool) throws
        -> CopyReport
    {
        try forwarded.receiveFile(path, from: reader, options: options, shouldStop: shouldStop)
    }

    public func makeDirectory(_ path: RelativePath, replacing: EntryKind?) throws { try forwarded.makeDirectory(path, replacing: replacing) }

    public func finishDirectory(_ path: RelativePath, permissions: UInt32, modified: Timestamp) throws {
        try forwarded.finishDirectory(path, permissions: permissions, modified: modified)
    }

    public func makeSymlink(_ path: RelativePath, target: [UInt8], modified: Timestamp) throws {
        try forwarded.makeSymlink(path, target: target, modified: modified)
    }

    public func remove(_ path: RelativePath, kind: EntryKind) throws { try forwarded.remove(path, kind: kind) }
    public func setModificationTime(_ path: RelativePath, to modified: Timestamp) throws { try forwarded.setModificationTime(path, to: modified) }

    public func removeTemporaryFile(named name: [UInt8], in directory: RelativePath) throws {
        try forwarded.removeTemporaryFile(named: name, in: directory)
    }

    public func entry(at path: RelativePath) throws -> Entry? { try forwarded.entry(at: path) }

    public func rename(_ path: RelativePath, to newPath: RelativePath, expected: Entry) throws {
        try forwarded.rename(path, to: newPath, expected: expected)
    }

    public func keepVersion(of path: RelativePath, as versionPath: RelativePath, expected: Entry, keepOriginal: Bool) throws {
        try forwarded.keepVersion(of: path, as: versionPath, expected: expected, keepOriginal: keepOriginal)
    }
}

/// A forwarding tree moves files in batches exactly when the tree behind it does.
extension ForwardingSyncTree where Self: BatchingSyncTree {
    public var prefersBatches: Bool { forwarded.batchesTransfers }
    public var roundTripMicros: Double? { forwarded.exchangeMicros }
    public func prefetchFiles(_ files: [(path: RelativePath, size: Int64)]) { forwarded.prefetch(files) }

    public func receiveBatch(
        _ files: [IncomingFile], options: CopyOptions, shouldStop: @Sendable () -> Bool,
        completed: (Int, Result<CopyReport, any Error>) -> Void
    ) {
        forwarded.receiveFiles(files, options: options, shouldStop: shouldStop, completed: completed)
    }

    public func digestBatch(_ paths: [RelativePath]) -> [Result<String, any Error>] { forwarded.md5s(of: paths) }

    public func finishDirectoryBatch(_ directories: [FinishedDirectory]) -> [(any Error)?] {
        forwarded.finishDirectories(directories)
    }

    public func makeDirectoryBatch(_ directories: [NewDirectory]) -> [(any Error)?] { forwarded.makeDirectories(directories) }

    public func listSubtree(_ root: RelativePath, _ visit: (RelativePath, DirectoryListing) -> Void) {
        forwarded.visitListings(under: root, visit)
    }

    public func keepVersionBatch(_ versions: [VersionToKeep]) -> [Result<Bool, any Error>] { forwarded.keepVersions(versions) }
}
