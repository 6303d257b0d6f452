/// One path's verdict, with the entries it was decided from: the unit of work the engine applies.
public struct PlannedOperation: Sendable, Hashable {
    public var path: RelativePath
    public var action: Action
    /// The entry on the side read from (the source in one-way mode).
    public var source: Entry?
    /// The entry on the side changed (the destination in one-way mode).
    public var destination: Entry?
    /// The side changed.
    public var side: Side

    public init(path: RelativePath, action: Action, source: Entry?, destination: Entry?, side: Side = .b) {
        self.path = path
        self.action = action
        self.source = source
        self.destination = destination
        self.side = side
    }

    /// The kind of object the operation produces or removes.
    public var kind: EntryKind {
        switch action {
        case .delete: destination?.kind ?? .file
        default: source?.kind ?? destination?.kind ?? .file
        }
    }

    /// Bytes a real run would copy for this operation.
    public var bytesToCopy: Int64 {
        switch action {
        case .create, .update, .compareContent: source?.kind == .file ? source?.size ?? 0 : 0
        case .setModificationTime, .delete, .skip, .keepVersion, .prune: 0
        }
    }
}
