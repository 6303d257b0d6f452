public import Logging
public import SyncCore
import Synchronization

/// Streams a run's operations into the audit store while it runs: the dashboard shows the run
/// and its counters as they grow, and the flush at the end has only the last few left to store.
///
/// Best effort, never in the sync's way: operations are handed over from the opslog writer
/// (after their line is written, so the opslog stays the record that counts) into a buffer
/// that ``run(every:clock:)`` stores every interval. The first store error stops the feed for
/// the rest of the run; a backlog the store cannot keep up with stops only the operations
/// (the counters stay live, and the buffer's memory is given back). Either way the flush of
/// the opslog stores what is missing (``AuditStore/store(_:nextBatch:)`` skips what is there).
public final class LiveAuditFeed: Sendable {
    public let store: any AuditStore
    /// The run's row, inserted by ``AuditStore/begin(_:)``.
    public let iterationID: Int64
    let logger: Logger
    /// What the run has found to do so far and its phase, read at each store.
    let plan: @Sendable () -> LivePlan

    /// Operations waiting beyond this many mean the store is not keeping up: the feed stops
    /// taking operations (a few MiB of them wait at most).
    public static let backlogLimit = 16_384
    /// This many operations waiting are stored without waiting for the interval, which keeps
    /// the buffer (and the run's memory) small during a large copy (4,096 held 1.5 MiB more
    /// at the peak of a copy of small files to a peer).
    public static let batchSize = 1024

    private struct State {
        var pending: [OperationRecord] = []
        var stored = 0
        /// The run's counters as far as the operations tell them.
        var progress: IterationRecord
        var progressChanged = false
        /// The plan as last stored.
        var storedPlan = LivePlan()
        var live = true
        /// Whether operations are still taken (a backlog stops them, not the counters).
        var operationsLive = true
        var finished = false
    }
    private let state: Mutex<State>

    public init(
        store: any AuditStore, iterationID: Int64, iteration: IterationRecord, logger: Logger,
        plan: @escaping @Sendable () -> LivePlan = { LivePlan() }
    ) {
        self.store = store
        self.iterationID = iterationID
        self.logger = logger
        self.plan = plan
        self.state = Mutex(State(progress: iteration))
    }

    /// Takes one operation, in sequence order (called by the opslog writer).
    public func add(_ record: OperationRecord) {
        state.withLock { state in
            guard state.live else { return }
            Self.count(record, into: &state.progress)
            state.progressChanged = true
            guard state.operationsLive else { return }
            state.pending.append(record)
            if state.pending.count > Self.backlogLimit {
                state.operationsLive = false
                state.pending = []
            }
        }
    }

    /// Stores what arrived every `interval`, or sooner once ``batchSize`` operations wait, until
    /// ``finish()`` and cancellation. A store call in progress is never interrupted (cancelling
    /// ends the wait between calls only): a transaction cut in the middle would leave the
    /// connection unusable for the final flush.
    public func run(every interval: Duration, clock: any WallClock) async {
        // Looked at often: a copy of small files adds thousands of operations a second, and
        // each one waiting past the batch is memory (at the 18,000 a second of a copy to a
        // peer, 100 ms is 1,800).
        let step = min(interval, .milliseconds(20))
        var next = clock.now.advanced(by: interval)
        while true {
            do {
                try await clock.sleep(until: min(next, clock.now.advanced(by: step)), tolerance: nil)
            } catch {
                return
            }
            if state.withLock({ $0.finished }) { return }
            let waiting = state.withLock { $0.pending.count }
            guard clock.now >= next || waiting >= Self.batchSize else { continue }
            // Its own task, which the run's cancellation does not reach.
            await Task { await self.storePending() }.value
            next = clock.now.advanced(by: interval)
        }
    }

    /// Marks the run's operations complete: ``run(every:clock:)`` stores nothing more (cancel
    /// its task to end its wait); what is pending stays for ``remainder(expecting:)``.
    public func finish() {
        state.withLock { $0.finished = true }
    }

    /// The operations not stored yet, if every one of the run's `operations` reached the feed
    /// and the feed stayed live; `nil` means the opslog must be flushed as usual.
    public func remainder(expecting operations: Int) -> [OperationRecord]? {
        state.withLock { state in
            guard state.live, state.operationsLive, state.stored + state.pending.count == operations else { return nil }
            return state.pending
        }
    }

    /// Whether the feed stopped (a store error).
    public var isLive: Bool { state.withLock { $0.live } }

    /// Whether operations still reach the store as they happen (a store error or a backlog stops them).
    public var takesOperations: Bool { state.withLock { $0.live && $0.operationsLive } }

    private func storePending() async {
        let plan = self.plan()
        let (records, progress) = state.withLock { state -> ([OperationRecord], IterationRecord?) in
            guard state.live, !state.pending.isEmpty || state.progressChanged || plan != state.storedPlan else { return ([], nil) }
            // Everything waiting, in one transaction: when operations arrive faster than a
            // store call takes, fixed-size calls would fall further behind with each one.
            let records = state.pending
            state.pending = []
            state.pending.reserveCapacity(Self.batchSize)
            state.progressChanged = false
            state.storedPlan = plan
            var progress = state.progress
            progress.filesPlanned = plan.files
            progress.bytesPlanned = plan.bytes
            progress.phase = plan.phase
            return (records, progress)
        }
        guard let progress else { return }
        do {
            try await store.append(records, progress: progress, iterationID: iterationID)
            state.withLock { $0.stored += records.count }
        } catch {
            state.withLock { state in
                state.live = false
                state.pending = []
            }
            logger.warning("the audit store stopped taking this run's operations as they happen: \(error); the opslog flush at the end stores them")
        }
    }

    /// Adds one operation to a run's counters (what the final summary will say, as far as
    /// the operations so far tell).
    static func count(_ record: OperationRecord, into progress: inout IterationRecord) {
        guard record.succeeded else {
            progress.filesFailed += 1
            return
        }
        switch record.operation {
        case .create:
            progress.filesCreated += 1
            progress.bytesTransferred += record.sizeAfter ?? 0
        case .update:
            progress.filesUpdated += 1
            progress.bytesTransferred += record.sizeAfter ?? 0
        case .delete: progress.filesDeleted += 1
        case .version: progress.versionsKept += 1
        case .prune: progress.versionsPruned += 1
        }
        if record.conflict { progress.conflicts += 1 }
    }
}

/// A running run's plan so far: operations and bytes found (they grow while the walk goes on)
/// and its phase.
public struct LivePlan: Sendable, Hashable {
    public var files: Int
    public var bytes: Int64
    public var phase: String?

    public init(files: Int = 0, bytes: Int64 = 0, phase: String? = nil) {
        self.files = files
        self.bytes = bytes
        self.phase = phase
    }
}
