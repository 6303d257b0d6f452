public import SyncCore

/// One file operation, in the shape of a `sync_operations` row.
public struct OperationRecord: Sendable, Hashable {
    /// Position in the run's opslog, from 1: with the run id, the key that makes a flush idempotent.
    public var sequence: Int
    public var operation: Operation
    /// The path relative to the pair's root, as ``SyncCore/RelativePath/storedForm`` keeps
    /// it: the name itself, or its escaped form when ``filepathEscaped`` says so.
    public var filepath: String
    /// Whether ``filepath`` is in the escaped form (names with control characters or bytes
    /// that are not UTF-8; every row written before schema version 2).
    public var filepathEscaped: Bool
    public var sizeBefore: Int64?
    public var sizeAfter: Int64?
    public var md5Before: String?
    public var md5After: String?
    public var startedAt: Timestamp
    public var endedAt: Timestamp?
    public var succeeded: Bool
    public var errorMessage: String?
    public var dryRun: Bool
    /// Bidirectional runs: the way the change travelled, `a-to-b` (it changed B) or `b-to-a`.
    public var direction: String?
    /// Bidirectional runs: both sides changed this path; the record's sizes and MD5s are the
    /// version kept as a conflict copy (before) and the one that kept the name (after).
    public var conflict: Bool

    public init(
        sequence: Int,
        operation: Operation,
        filepath: String,
        filepathEscaped: Bool = false,
        sizeBefore: Int64? = nil,
        sizeAfter: Int64? = nil,
        md5Before: String? = nil,
        md5After: String? = nil,
        startedAt: Timestamp,
        endedAt: Timestamp? = nil,
        succeeded: Bool = true,
        errorMessage: String? = nil,
        dryRun: Bool,
        direction: String? = nil,
        conflict: Bool = false
    ) {
        self.sequence = sequence
        self.operation = operation
        self.filepath = filepath
        self.filepathEscaped = filepathEscaped
        self.sizeBefore = sizeBefore
        self.sizeAfter = sizeAfter
        self.md5Before = md5Before
        self.md5After = md5After
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.succeeded = succeeded
        self.errorMessage = errorMessage
        self.dryRun = dryRun
        self.direction = direction
        self.conflict = conflict
    }

    /// The record of an engine result, or `nil` for results that are not operations (skips).
    public init?(_ result: OperationResult, sequence: Int, dryRun: Bool) {
        guard let operation = result.operation else { return nil }
        let stored = result.path.storedForm
        self.init(
            sequence: sequence, operation: operation, filepath: stored.text, filepathEscaped: stored.escaped,
            sizeBefore: result.sizeBefore, sizeAfter: result.sizeAfter,
            md5Before: result.md5Before, md5After: result.md5After,
            startedAt: result.startedAt, endedAt: result.endedAt,
            succeeded: result.status == .success, errorMessage: result.errorMessage, dryRun: dryRun,
            direction: result.side?.travel, conflict: result.isConflict)
    }

    /// The part of an operation the dry-run idempotency check compares.
    public var planKey: PlanKey { PlanKey(storedPath: filepath, escaped: filepathEscaped, operation: operation, sizeBefore: sizeBefore) }

    /// The text a person is shown for the path.
    public var displayPath: String {
        RelativePath.displayText(stored: filepath, escaped: filepathEscaped)
    }
}

/// `filepath + operation + size_before`: what makes two dry runs "the same plan".
public struct PlanKey: Sendable, Hashable {
    public var filepath: String
    public var operation: Operation
    public var sizeBefore: Int64?

    public init(filepath: String, operation: Operation, sizeBefore: Int64?) {
        self.filepath = filepath
        self.operation = operation
        self.sizeBefore = sizeBefore
    }
    /// The key of a stored row: the path is compared in one form (the escaped one) whichever
    /// form the row holds, so plans recorded before and after schema version 2 compare equal.
    public init(storedPath text: String, escaped: Bool, operation: Operation, sizeBefore: Int64?) {
        self.init(filepath: escaped ? text : RelativePath.escape(Array(text.utf8)), operation: operation, sizeBefore: sizeBefore)
    }

}
