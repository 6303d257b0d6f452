public import SyncCore

/// Any tree behind one concrete type, for code generic over trees whose kind is chosen at
/// run time (a local path or a `hasync://` peer on either side).
public struct AnySyncTree: BatchingSyncTree, StagingSyncTree {
    public let base: any SyncTree

    public init(_ base: any SyncTree) {
        self.base = base
    }

    public var displayName: String { base.displayName }
    public var prefersBatches: Bool { base.batchesTransfers }
    public var stagesCopies: Bool { base.supportsStaging }
    public func publishStaged(_ temporaryName: [UInt8], as path: RelativePath) throws { try base.publishStaged(temporaryName, as: path) }
    public func prefetchFiles(_ files: [(path: RelativePath, size: Int64)]) { base.prefetch(files) }

    public func receiveBatch(
        _ files: [IncomingFile], options: CopyOptions, shouldStop: @Sendable () -> Bool,
        completed: (Int, Result<CopyReport, any Error>) -> Void
    ) {
        base.receiveFiles(files, options: options, shouldStop: shouldStop, completed: completed)
    }
    public func list(_ directory: RelativePath) throws -> DirectoryListing { try base.list(directory) }
    public func listKinds(_ directory: RelativePath) throws -> DirectoryListing { try base.listKinds(directory) }
    public func md5(of path: RelativePath) throws -> String { try base.md5(of: path) }
    public func openFile(_ path: RelativePath) throws -> any FileReader { try base.openFile(path) }

    public func receiveFile(_ path: RelativePath, from reader: any FileReader, options: CopyOptions, shouldStop: @Sendable () -> Bool) throws
        -> CopyReport
    {
        try base.receiveFile(path, from: reader, options: options, shouldStop: shouldStop)
    }

    public func makeDirectory(_ path: RelativePath, replacing: EntryKind?) throws { try base.makeDirectory(path, replacing: replacing) }

    public func finishDirectory(_ path: RelativePath, permissions: UInt32, modified: Timestamp) throws {
        try base.finishDirectory(path, permissions: permissions, modified: modified)
    }

    public func makeSymlink(_ path: RelativePath, target: [UInt8], modified: Timestamp) throws {
        try base.makeSymlink(path, target: target, modified: modified)
    }

    public func remove(_ path: RelativePath, kind: EntryKind) throws { try base.remove(path, kind: kind) }
    public func setModificationTime(_ path: RelativePath, to modified: Timestamp) throws { try base.setModificationTime(path, to: modified) }

    public func removeTemporaryFile(named name: [UInt8], in directory: RelativePath) throws {
        try base.removeTemporaryFile(named: name, in: directory)
    }

    public func entry(at path: RelativePath) throws -> Entry? { try base.entry(at: path) }

    public func rename(_ path: RelativePath, to newPath: RelativePath, expected: Entry) throws {
        try base.rename(path, to: newPath, expected: expected)
    }

    public func keepVersion(of path: RelativePath, as versionPath: RelativePath, expected: Entry, keepOriginal: Bool) throws {
        try base.keepVersion(of: path, as: versionPath, expected: expected, keepOriginal: keepOriginal)
    }
}
