import AuditLog
import Logging
import RunLock
import SyncCore
import SyncEngine
import SyncRunner
import SyncTestSupport
import SyncTrees
import Synchronization

/// Records what a run reports.
final class RecordingReporter: RunReporter {
    struct Events: Sendable {
        var held: [String] = []
        var failures: [String] = []
        var reports: [SyncReport] = []
        var operations: [OperationResult] = []
        var dryRunCurrent = 0
    }

    private let state = Mutex(Events())

    var events: Events { state.withLock { $0 } }

    var observer: any SyncObserver { Observer(reporter: self) }

    func lockHeld(pair: String, holder: String) { state.withLock { $0.held.append(holder) } }
    func dryRunAlreadyCurrent(since: Timestamp) { state.withLock { $0.dryRunCurrent += 1 } }
    func runFailed(_ message: String) { state.withLock { $0.failures.append(message) } }
    func finished(_ report: SyncReport) { state.withLock { $0.reports.append(report) } }
    func progress(_ snapshot: SyncProgress.Snapshot, elapsed: Duration) {}
    func progressEnded() {}

    fileprivate func record(_ result: OperationResult) { state.withLock { $0.operations.append(result) } }

    struct Observer: SyncObserver {
        let reporter: RecordingReporter
        func operationFinished(_ result: OperationResult) { reporter.record(result) }
        func skipped(_ path: RelativePath, reason: SkipReason) {}
    }
}

/// A lock whose `acquire` waits until its task is cancelled, like a call to an API server that never answers.
struct HangingLock: RunLock {
    func acquire() async throws -> LockAcquisition {
        while true {
            try await Task.sleep(for: .seconds(3600))
        }
    }
}

/// A lock that is lost as soon as the run starts maintaining it, like a Lease taken over.
final class LosingLock: RunLock {
    let released = Mutex(false)

    func acquire() async throws -> LockAcquisition {
        .acquired(Hold(lock: self))
    }

    struct Hold: HeldLock {
        let lock: LosingLock
        func maintain(onLost: @escaping @Sendable (String) -> Void) async {
            onLost("Lease taken over by another run")
        }
        func release() async { lock.released.withLock { $0 = true } }
    }
}

/// In-memory parts for a runner: two trees, a lock table, a store, a scratch log directory.
struct RunnerHarness {
    let source = InMemoryTree(name: "a")
    let destination = InMemoryTree(name: "b")
    let locks = InMemoryLockTable()
    let store = InMemoryAuditStore()
    let reporter = RecordingReporter()
    let shutdown = RunShutdown()
    // Starts at the real time: opslog retention compares file times on disk with it.
    let clock = ManualClock(now: .now())
    let scratch: TemporaryTree
    var configuration: RunConfiguration

    init() throws {
        scratch = try TemporaryTree("runner")
        configuration = RunConfiguration(pair: "media", source: "/a", destination: "/b")
        configuration.direction = "dell-to-hp"
        configuration.logDirectory = try scratch.directory("logs")
    }

    var lockName: String { "ha-sync-\(configuration.pair)" }

    func runner(
        lock: (any RunLock)? = nil,
        openStore: (@Sendable () async throws -> any AuditStore)? = nil
    ) -> SyncRunner<InMemoryTree, InMemoryTree> {
        let store = self.store
        let source = self.source
        let destination = self.destination
        let parts = SyncRunner<InMemoryTree, InMemoryTree>.Parts(
            lock: lock ?? locks.lock(lockName, holder: "test/\(configuration.direction)"),
            openStore: openStore ?? { store },
            openSource: { source },
            openDestination: { _ in destination })
        return SyncRunner(
            configuration: configuration, parts: parts, reporter: reporter, shutdown: shutdown, clock: clock, logger: Logger(label: "runner-test"))
    }

    func iterations() async throws -> [StoredIteration] {
        try await store.iterations(IterationQuery(limit: 100))
    }
}
