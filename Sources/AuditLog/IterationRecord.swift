public import SyncCore

/// One run, in the shape of a `sync_iterations` row.
public struct IterationRecord: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case running
        case success
        case partialFailure = "partial_failure"
        case failed
    }

    /// Unique per run; the key that makes flushing an opslog idempotent.
    public var runID: String
    public var pair: String
    public var direction: String
    public var source: String
    public var destination: String
    public var startedAt: Timestamp
    public var endedAt: Timestamp?
    public var status: Status
    public var dryRun: Bool
    public var filesCreated = 0
    public var filesUpdated = 0
    public var filesDeleted = 0
    public var filesSkipped = 0
    public var filesFailed = 0
    /// Paths changed on both sides that kept a conflict copy (bidirectional runs).
    public var conflicts = 0
    /// Versions kept and pruned by the run, and what its version stores hold afterwards.
    public var versionsKept = 0
    public var versionsPruned = 0
    public var versionStoreFiles = 0
    public var versionStoreBytes: Int64 = 0
    /// The filter rules the run used: a fingerprint, and the rules one per line with where
    /// each came from; `nil` without filters.
    public var filterFingerprint: String?
    public var filterRules: String?
    public var bytesTransferred: Int64 = 0
    public var errorMessage: String?
    /// While the run is in progress: operations and bytes found so far (they grow while the
    /// walk goes on) and what it is doing. A finished run's row leaves them at 0 and nil.
    public var filesPlanned = 0
    public var bytesPlanned: Int64 = 0
    public var phase: String?
    /// The run id every destination of a fan-out run shares (each destination's row has a
    /// `runID` of its own); `nil` for a run with one destination.
    public var fanOutID: String?

    public init(
        runID: String,
        pair: String,
        direction: String,
        source: String,
        destination: String,
        startedAt: Timestamp,
        dryRun: Bool,
        status: Status = .running
    ) {
        self.runID = runID
        self.pair = pair
        self.direction = direction
        self.source = source
        self.destination = destination
        self.startedAt = startedAt
        self.dryRun = dryRun
        self.status = status
    }

    /// Copies the counters of a finished run.
    /// The same run with another status.
    public func withStatus(_ status: Status) -> IterationRecord {
        var copy = self
        copy.status = status
        return copy
    }

    public mutating func finish(status: Status, summary: SyncSummary, endedAt: Timestamp, errorMessage: String?) {
        self.status = status
        self.endedAt = endedAt
        self.errorMessage = errorMessage
        filesCreated = summary.created
        filesUpdated = summary.updated
        filesDeleted = summary.deleted
        filesSkipped = summary.skipped
        filesFailed = summary.failed
        conflicts = summary.conflicts
        versionsKept = summary.versionsKept
        versionsPruned = summary.versionsPruned
        versionStoreFiles = summary.versionStoreFiles
        versionStoreBytes = summary.versionStoreBytes
        bytesTransferred = summary.bytesTransferred
    }
}
