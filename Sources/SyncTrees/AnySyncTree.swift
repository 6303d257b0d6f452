public import SyncCore

/// Any tree behind one concrete type, for code generic over trees whose kind is chosen at
/// run time (a local path or a `hasync://` peer on either side).
public struct AnySyncTree: ForwardingSyncTree, BatchingSyncTree, StagingSyncTree {
    public let base: any SyncTree

    public init(_ base: any SyncTree) {
        self.base = base
    }

    public var forwarded: any SyncTree { base }
    public var stagesCopies: Bool { base.supportsStaging }
    public func publishStaged(_ temporaryName: [UInt8], as path: RelativePath) throws { try base.publishStaged(temporaryName, as: path) }
}
