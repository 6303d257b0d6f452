/// What happened to one path: the record the summary counts and the audit trail stores.
public struct OperationResult: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, Codable {
        case success
        case failed = "fail"
    }

    public var path: RelativePath
    /// The final action; ``Action/compareContent`` is always resolved by now.
    public var action: Action
    public var kind: EntryKind
    public var sizeBefore: Int64?
    public var sizeAfter: Int64?
    public var md5Before: String?
    public var md5After: String?
    /// Wall-clock start and end, in nanoseconds since the epoch.
    public var startedAt: Timestamp
    public var endedAt: Timestamp
    public var status: Status
    public var errorMessage: String?
    /// File bytes written to the destination (0 for metadata-only operations and dry runs).
    public var bytesTransferred: Int64
    /// The side the operation changed: always B (`nil`) in one-way mode.
    public var side: Side?
    /// A conflict: both sides changed the path. The record's side is the one whose version
    /// moved to a conflict copy; sizes and MD5s are the two versions (before: the kept copy's).
    public var isConflict: Bool

    public init(
        path: RelativePath,
        action: Action,
        kind: EntryKind,
        sizeBefore: Int64? = nil,
        sizeAfter: Int64? = nil,
        md5Before: String? = nil,
        md5After: String? = nil,
        startedAt: Timestamp,
        endedAt: Timestamp,
        status: Status = .success,
        errorMessage: String? = nil,
        bytesTransferred: Int64 = 0,
        side: Side? = nil,
        isConflict: Bool = false
    ) {
        self.path = path
        self.action = action
        self.kind = kind
        self.sizeBefore = sizeBefore
        self.sizeAfter = sizeAfter
        self.md5Before = md5Before
        self.md5After = md5After
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.status = status
        self.errorMessage = errorMessage
        self.bytesTransferred = bytesTransferred
        self.side = side
        self.isConflict = isConflict
    }

    public var operation: Operation? { action.operation }
}
