public import SyncCore
import Synchronization

/// An audit store in memory, for tests of code that takes an ``AuditStore``. Behaves like
/// the SQL stores: idempotent on run id, dry-run rows kept apart by the queries.
public final class InMemoryAuditStore: AuditStore {
    private struct State {
        var iterations: [StoredIteration] = []
        var operations: [StoredOperation] = []
        var nextIterationID: Int64 = 1
        var nextOperationID: Int64 = 1
        var unreachable = false

        mutating func add(_ records: [OperationRecord], to iterationID: Int64) {
            for record in records {
                operations.append(StoredOperation(id: nextOperationID, iterationID: iterationID, record: record))
                nextOperationID += 1
            }
        }
    }
    private let state = Mutex(State())

    public init() {}

    /// Makes every call fail, like a database that went away.
    public func setUnreachable(_ value: Bool) {
        state.withLock { $0.unreachable = value }
    }

    private func check() throws {
        if state.withLock({ $0.unreachable }) { throw AuditError("in-memory audit store is unreachable") }
    }

    public func prepare() async throws { try check() }
    public func ping() async throws { try check() }

    public func store(_ iteration: IterationRecord, nextBatch: () throws -> [OperationRecord]?) async throws -> StoreOutcome {
        try check()
        let existing = state.withLock { $0.iterations.first { $0.record.runID == iteration.runID } }
        if let existing, existing.record.status != .running {
            return .alreadyStored(iterationID: existing.id)
        }
        var records: [OperationRecord] = []
        while let batch = try nextBatch() { records += batch }
        return state.withLock { state in
            let id: Int64
            if let existing, let index = state.iterations.firstIndex(where: { $0.id == existing.id }) {
                id = existing.id
                state.iterations[index].record = iteration
                let storedThrough = state.operations.filter { $0.iterationID == id }.map(\.record.sequence).max() ?? 0
                records.removeAll { $0.sequence <= storedThrough }
            } else {
                id = state.nextIterationID
                state.nextIterationID += 1
                state.iterations.append(StoredIteration(id: id, record: iteration))
            }
            state.add(records, to: id)
            return .stored(iterationID: id)
        }
    }

    public func begin(_ iteration: IterationRecord) async throws -> Int64 {
        try check()
        return state.withLock { state in
            if let existing = state.iterations.first(where: { $0.record.runID == iteration.runID }) { return existing.id }
            var running = iteration
            running.status = .running
            let id = state.nextIterationID
            state.nextIterationID += 1
            state.iterations.append(StoredIteration(id: id, record: running))
            return id
        }
    }

    public func append(_ records: [OperationRecord], progress: IterationRecord, iterationID: Int64) async throws {
        try check()
        state.withLock { state in
            guard let index = state.iterations.firstIndex(where: { $0.id == iterationID }) else { return }
            var running = progress
            running.status = .running
            state.iterations[index].record = running
            state.add(records, to: iterationID)
        }
    }

    public func lastSuccessfulDryRun(pair: String, direction: String) async throws -> DryRunFingerprint? {
        try check()
        return state.withLock { state in
            let candidates = state.iterations.filter {
                $0.record.pair == pair && $0.record.direction == direction && $0.record.dryRun && $0.record.status == .success
            }
            guard let last = candidates.max(by: { ($0.record.startedAt, $0.id) < ($1.record.startedAt, $1.id) }) else { return nil }
            let digest = PlanDigest(state.operations.filter { $0.iterationID == last.id }.map(\.record.planKey))
            return DryRunFingerprint(iterationID: last.id, startedAt: last.record.startedAt, digest: digest)
        }
    }

    public func pairStatuses() async throws -> [PairStatus] {
        try check()
        return state.withLock { state in
            var statuses: [String: PairStatus] = [:]
            for iteration in state.iterations.sorted(by: { ($0.record.startedAt, $0.id) < ($1.record.startedAt, $1.id) }) {
                let key = iteration.record.pair + "\u{0}" + iteration.record.direction
                var status = statuses[key] ?? PairStatus(pair: iteration.record.pair, direction: iteration.record.direction)
                if iteration.record.dryRun {
                    status.lastDryRun = iteration
                } else {
                    status.lastReal = iteration
                    if iteration.record.status == .success { status.lastRealSuccess = iteration.record.startedAt }
                }
                statuses[key] = status
            }
            return statuses.values.sorted { ($0.pair, $0.direction) < ($1.pair, $1.direction) }
        }
    }

    public func iterations(_ query: IterationQuery) async throws -> [StoredIteration] {
        try check()
        return state.withLock { state in
            Array(
                state.iterations.reversed().filter { iteration in
                    (query.pair.map { iteration.record.pair == $0 } ?? true)
                        && (query.direction.map { iteration.record.direction == $0 } ?? true)
                        && (query.dryRun.map { iteration.record.dryRun == $0 } ?? true)
                        && (query.beforeID.map { iteration.id < $0 } ?? true)
                }.prefix(query.limit))
        }
    }

    public func iteration(id: Int64) async throws -> StoredIteration? {
        try check()
        return state.withLock { $0.iterations.first { $0.id == id } }
    }

    public func operations(_ query: OperationQuery) async throws -> [StoredOperation] {
        try check()
        return state.withLock { state in
            Array(
                state.operations.filter { operation in
                    operation.iterationID == query.iterationID
                        && (query.succeeded.map { operation.record.succeeded == $0 } ?? true)
                        && (query.afterID.map { operation.id > $0 } ?? true)
                }.prefix(query.limit))
        }
    }

    public func conflicts(pair: String, limit: Int) async throws -> [StoredConflict] {
        try check()
        return state.withLock { state in
            let real = Set(state.iterations.filter { $0.record.pair == pair && !$0.record.dryRun }.map(\.id))
            let operations = state.operations.filter { real.contains($0.iterationID) }
            return operations.filter { $0.record.conflict && $0.record.succeeded }.reversed().prefix(max(0, limit)).map { conflict in
                let copy = operations.first {
                    $0.iterationID == conflict.iterationID && $0.record.sequence == conflict.record.sequence + 1 && $0.record.operation == .create
                }
                let resolved =
                    copy.map { copy in
                        operations.contains {
                            $0.id > copy.id && $0.record.operation == .delete && $0.record.succeeded && $0.record.filepath == copy.record.filepath
                        }
                    } ?? false
                return StoredConflict(
                    conflict: conflict, copyPath: copy?.record.filepath, copyPathEscaped: copy?.record.filepathEscaped ?? false, resolved: resolved)
            }
        }
    }

    public func pruneHistory(before cutoff: Timestamp, batchSize: Int) async throws -> PruneResult {
        try check()
        return state.withLock { state in
            let old = Set(state.iterations.filter { $0.record.startedAt < cutoff }.map(\.id))
            let operations = state.operations.count
            state.operations.removeAll { old.contains($0.iterationID) }
            state.iterations.removeAll { old.contains($0.id) }
            return PruneResult(iterations: old.count, operations: operations - state.operations.count)
        }
    }

    public func close() async {}
}
