public import SyncCore

/// Where the audit trail is kept: SQLite by default, MySQL in the cluster.
///
/// A run's operations reach the store while it runs (``begin(_:)`` and ``append(_:progress:iterationID:)``,
/// best effort) and when its opslog is flushed (``store(_:nextBatch:)``, which completes the
/// row; the opslog stays the record that counts). Every query a
/// real run makes filters `dry_run = 0`; dry-run rows serve the dry-run idempotency check
/// and the dashboard only.
public protocol AuditStore: Sendable {
    /// Creates the schema, or migrates an older one, so the store is ready to use.
    func prepare() async throws

    /// Checks that the store answers (for readiness probes).
    func ping() async throws

    /// Stores a run and its operations in one transaction. Idempotent: a run whose id is
    /// already stored is left as it is and reported as ``StoreOutcome/alreadyStored(iterationID:)``.
    /// A run recorded while it ran (its row still `running`) is completed: operations whose
    /// sequence number is already stored are skipped, and the row takes `iteration`'s values.
    /// `nextBatch` hands out the operations in batches until it returns `nil`.
    func store(_ iteration: IterationRecord, nextBatch: () throws -> [OperationRecord]?) async throws -> StoreOutcome

    /// Records a run that has started: its row with status `running`, so the dashboard can show
    /// it. Returns the row's id (the existing one, if the run id is already there).
    func begin(_ iteration: IterationRecord) async throws -> Int64

    /// Adds operations of a running run, in sequence order and continuing the stored ones, and
    /// updates the row's counters from `progress` (its status stays `running`), in one transaction.
    func append(_ records: [OperationRecord], progress: IterationRecord, iterationID: Int64) async throws

    /// The last successful dry run of a pair and direction, with the fingerprint of its operations.
    func lastSuccessfulDryRun(pair: String, direction: String) async throws -> DryRunFingerprint?

    /// Per pair and direction: the last real run and the last dry run.
    func pairStatuses() async throws -> [PairStatus]

    /// Recent runs, newest first.
    func iterations(_ query: IterationQuery) async throws -> [StoredIteration]

    /// One run, by id.
    func iteration(id: Int64) async throws -> StoredIteration?

    /// The operations of one run, in order.
    func operations(_ query: OperationQuery) async throws -> [StoredOperation]

    /// The conflicts of a pair's real runs, newest first: each conflict's record with the
    /// conflict copy it made and whether a later run deleted that copy (someone resolved it).
    func conflicts(pair: String, limit: Int) async throws -> [StoredConflict]

    /// Deletes runs that started before `cutoff`, with their operations, `batchSize` rows at a time.
    func pruneHistory(before cutoff: Timestamp, batchSize: Int) async throws -> PruneResult

    /// Closes connections; the store is not used afterwards.
    func close() async
}

/// The result of ``AuditStore/store(_:nextBatch:)``.
public enum StoreOutcome: Sendable, Hashable {
    case stored(iterationID: Int64)
    /// The run was stored before (a crash came between the commit and the opslog's removal).
    case alreadyStored(iterationID: Int64)
}

/// A run as stored.
public struct StoredIteration: Sendable, Hashable {
    public var id: Int64
    public var record: IterationRecord

    public init(id: Int64, record: IterationRecord) {
        self.id = id
        self.record = record
    }
}

/// An operation as stored.
public struct StoredOperation: Sendable, Hashable {
    public var id: Int64
    public var iterationID: Int64
    public var record: OperationRecord

    public init(id: Int64, iterationID: Int64, record: OperationRecord) {
        self.id = id
        self.iterationID = iterationID
        self.record = record
    }
}

/// A conflict as the audit trail knows it.
public struct StoredConflict: Sendable, Hashable {
    /// The conflict's record: `filepath` is the path both sides changed, `size_before` and
    /// `md5_before` the version kept as a copy, `size_after` and `md5_after` the one that kept
    /// the name, `direction` the side whose version became the copy.
    public var conflict: StoredOperation
    /// The conflict copy's path, as stored (`nil` if the run did not record one).
    public var copyPath: String?
    public var copyPathEscaped: Bool
    /// Whether a later real run of the pair deleted the copy.
    public var resolved: Bool

    public init(conflict: StoredOperation, copyPath: String?, copyPathEscaped: Bool, resolved: Bool) {
        self.conflict = conflict
        self.copyPath = copyPath
        self.copyPathEscaped = copyPathEscaped
        self.resolved = resolved
    }
}

/// The last runs of one pair and direction.
public struct PairStatus: Sendable, Hashable {
    public var pair: String
    public var direction: String
    public var lastReal: StoredIteration?
    public var lastDryRun: StoredIteration?
    /// When the last real run that succeeded started.
    public var lastRealSuccess: Timestamp?

    public init(
        pair: String, direction: String, lastReal: StoredIteration? = nil, lastDryRun: StoredIteration? = nil, lastRealSuccess: Timestamp? = nil
    ) {
        self.pair = pair
        self.direction = direction
        self.lastReal = lastReal
        self.lastDryRun = lastDryRun
        self.lastRealSuccess = lastRealSuccess
    }
}

/// Which runs ``AuditStore/iterations(_:)`` returns.
public struct IterationQuery: Sendable, Hashable {
    public var pair: String?
    public var direction: String?
    /// `nil` for both kinds.
    public var dryRun: Bool?
    public var limit: Int
    /// Paging: only runs with a smaller id.
    public var beforeID: Int64?

    public init(pair: String? = nil, direction: String? = nil, dryRun: Bool? = nil, limit: Int = 20, beforeID: Int64? = nil) {
        self.pair = pair
        self.direction = direction
        self.dryRun = dryRun
        self.limit = limit
        self.beforeID = beforeID
    }
}

/// Which operations ``AuditStore/operations(_:)`` returns.
public struct OperationQuery: Sendable, Hashable {
    public var iterationID: Int64
    /// `true`: only successes; `false`: only failures; `nil`: both.
    public var succeeded: Bool?
    public var limit: Int
    /// Paging: only operations with a larger id.
    public var afterID: Int64?

    public init(iterationID: Int64, succeeded: Bool? = nil, limit: Int = 100, afterID: Int64? = nil) {
        self.iterationID = iterationID
        self.succeeded = succeeded
        self.limit = limit
        self.afterID = afterID
    }
}

/// What the last successful dry run planned, for comparing with a new one.
public struct DryRunFingerprint: Sendable, Hashable {
    public var iterationID: Int64
    public var startedAt: Timestamp
    public var digest: PlanDigest

    public init(iterationID: Int64, startedAt: Timestamp, digest: PlanDigest) {
        self.iterationID = iterationID
        self.startedAt = startedAt
        self.digest = digest
    }
}

/// What ``AuditStore/pruneHistory(before:batchSize:)`` deleted.
public struct PruneResult: Sendable, Hashable {
    public var iterations: Int
    public var operations: Int

    public init(iterations: Int = 0, operations: Int = 0) {
        self.iterations = iterations
        self.operations = operations
    }
}

extension AuditStore {
    /// Deletes the runs (and their operations) that started more than `age` before the
    /// clock's now. Returns what was deleted and the cut-off used.
    public func pruneHistory(olderThan age: Duration, clock: some WallClock, batchSize: Int) async throws -> (result: PruneResult, cutoff: Timestamp)
    {
        let cutoff = clock.now.advanced(by: .zero - age)
        return (try await pruneHistory(before: cutoff, batchSize: batchSize), cutoff)
    }
}
