import SyncCore
import Synchronization

/// Live counters of a run, read by the progress display while the engine updates them.
public final class SyncProgress: Sendable {
    /// What the run is doing, for progress displays.
    public enum Phase: String, Sendable, Hashable {
        case starting
        /// Reading both trees before anything changes (the delete guards' survey, a bidirectional plan).
        case listing
        /// Walking and copying as the walk goes.
        case copying
        case deleting
        /// Applying the keep rules to the version stores.
        case pruning
    }

    public struct Snapshot: Sendable, Hashable {
        public var phase = Phase.starting
        /// Entries seen on either side so far.
        public var scanned = 0
        /// Operations found so far (the walk is still going while these grow).
        public var planned = 0
        public var plannedBytes: Int64 = 0
        public var done = 0
        public var doneBytes: Int64 = 0
        public var failed = 0
        /// Whether the walk has finished, so `planned` is final.
        public var walkFinished = false
        /// Whether the sync itself is over (what follows is bookkeeping): no more progress to show.
        public var ended = false
    }

    private let state = Mutex(Snapshot())
    /// The destinations' own progress in a fan-out run; this one then shows their sum.
    private let parts = Mutex<[SyncProgress]>([])

    public init() {}

    public var snapshot: Snapshot {
        let own = state.withLock { $0 }
        let parts = self.parts.withLock { $0 }
        guard !parts.isEmpty else { return own }
        var sum = Snapshot()
        let snapshots = parts.map(\.snapshot)
        // The phase of the destination furthest behind.
        sum.phase = snapshots.first(where: { !$0.ended })?.phase ?? snapshots[0].phase
        for part in snapshots {
            sum.scanned += part.scanned
            sum.planned += part.planned
            sum.plannedBytes += part.plannedBytes
            sum.done += part.done
            sum.doneBytes += part.doneBytes
            sum.failed += part.failed
        }
        sum.walkFinished = snapshots.allSatisfy(\.walkFinished)
        sum.ended = own.ended
        return sum
    }

    /// Shows the sum of `parts` from now on (a fan-out run's destinations).
    public func combine(_ parts: [SyncProgress]) {
        self.parts.withLock { $0 = parts }
    }

    /// Marks the sync as over, so progress displays stop.
    public func end() {
        update { $0.ended = true }
    }

    func enter(_ phase: Phase) {
        update { $0.phase = phase }
    }

    func update(_ body: (inout Snapshot) -> Void) {
        state.withLock { body(&$0) }
    }

    /// Counts finished operations: done, failed, and the bytes of the successful ones.
    func count(_ results: [OperationResult]) {
        let failures = results.lazy.filter { $0.status == .failed }.count
        let bytes = results.reduce(Int64(0)) { $0 + ($1.status == .success ? $1.bytesTransferred : 0) }
        update {
            $0.done += results.count
            $0.failed += failures
            $0.doneBytes += bytes
        }
    }
}
