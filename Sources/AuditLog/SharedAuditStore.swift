public import SyncCore

/// One store used by several parts of a run (the destinations of a fan-out run): each part
/// "closes" its handle, and the owner closes the store once all are done. SQLite in
/// particular wants one connection per process: several writing at once fail with "database
/// is locked" where one waits for the other. Calls are taken one at a time, since a store's
/// transactions span several statements on its one connection.
public struct SharedAuditStore: AuditStore {
    public let base: any AuditStore
    private let turn: AsyncTurn

    /// Handles made from one `SharedAuditStore` share its turn.
    public init(_ base: any AuditStore) {
        self.base = base
        self.turn = AsyncTurn()
    }

    private func serialized<Result>(_ body: () async throws -> Result) async throws -> Result {
        await turn.acquire()
        do {
            let result = try await body()
            await turn.release()
            return result
        } catch {
            await turn.release()
            throw error
        }
    }

    public func prepare() async throws { try await serialized { try await base.prepare() } }
    public func ping() async throws { try await serialized { try await base.ping() } }
    public func store(_ iteration: IterationRecord, nextBatch: () throws -> [OperationRecord]?) async throws -> StoreOutcome {
        try await serialized { try await base.store(iteration, nextBatch: nextBatch) }
    }
    public func begin(_ iteration: IterationRecord) async throws -> Int64 { try await serialized { try await base.begin(iteration) } }
    public func append(_ records: [OperationRecord], progress: IterationRecord, iterationID: Int64) async throws {
        try await serialized { try await base.append(records, progress: progress, iterationID: iterationID) }
    }
    public func lastSuccessfulDryRun(pair: String, direction: String) async throws -> DryRunFingerprint? {
        try await serialized { try await base.lastSuccessfulDryRun(pair: pair, direction: direction) }
    }
    public func pairStatuses() async throws -> [PairStatus] { try await serialized { try await base.pairStatuses() } }
    public func iterations(_ query: IterationQuery) async throws -> [StoredIteration] { try await serialized { try await base.iterations(query) } }
    public func iteration(id: Int64) async throws -> StoredIteration? { try await serialized { try await base.iteration(id: id) } }
    public func operations(_ query: OperationQuery) async throws -> [StoredOperation] { try await serialized { try await base.operations(query) } }
    public func conflicts(pair: String, limit: Int) async throws -> [StoredConflict] {
        try await serialized { try await base.conflicts(pair: pair, limit: limit) }
    }
    public func pruneHistory(before cutoff: Timestamp, batchSize: Int) async throws -> PruneResult {
        try await serialized { try await base.pruneHistory(before: cutoff, batchSize: batchSize) }
    }

    /// Leaves the store open: its owner closes it.
    public func close() async {}
}

/// An async mutual exclusion: callers wait their turn in order, without blocking a thread.
actor AsyncTurn {
    private var taken = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        guard taken else {
            taken = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            taken = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
