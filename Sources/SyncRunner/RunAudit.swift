import AuditLog
import Foundation
import Logging
import SyncCore
import SyncEngine

/// The audit side of one run: the store (when reachable), the opslog, the flush.
///
/// Nothing here can fail the sync: an unreachable store or an unwritable opslog is logged,
/// the opslog stays for a later run, and the run's exit status is the sync's.
final class RunAudit: Sendable {
    let store: (any AuditStore)?
    let storeProblem: String?
    let flusher: OpslogFlusher
    let logger: Logger
    let writer: OpslogWriter?
    /// Streams the run into the store as it goes (real runs, when the store answered at the start).
    let feed: LiveAuditFeed?

    private init(
        store: (any AuditStore)?, storeProblem: String?, flusher: OpslogFlusher, writer: OpslogWriter?, feed: LiveAuditFeed? = nil, logger: Logger
    ) {
        self.store = store
        self.storeProblem = storeProblem
        self.flusher = flusher
        self.writer = writer
        self.feed = feed
        self.logger = logger
    }

    /// How often the live feed stores what arrived.
    static let feedInterval: Duration = .milliseconds(500)

    /// Opens the store, flushes opslogs left by earlier runs, and starts this run's opslog.
    /// A stop request ends the waits on the store at once; no opslog is started then.
    static func start(
        openStore: @escaping @Sendable () async throws -> any AuditStore,
        logDirectory: String,
        iteration: IterationRecord,
        stop: StopSignal,
        progress: SyncProgress,
        flushEarlier: Bool = true,
        logger: Logger
    ) async -> RunAudit {
        let flusher = OpslogFlusher(directory: logDirectory, logger: logger)
        var store: (any AuditStore)?
        var problem: String?
        do {
            store = try await stop.unlessStopped({ try await openStore() }, discard: { await $0.close() })
        } catch {
            problem = "\(error)"
            logger.warning("audit store unavailable: \(error); the sync goes on and its opslog stays in \(logDirectory) for a later run to flush")
        }
        if let opened = store, flushEarlier {
            await flushPending(flusher, to: opened, stop: stop, logger: logger)
        }
        if stop.isStopped {
            return RunAudit(store: store, storeProblem: problem, flusher: flusher, writer: nil, logger: logger)
        }
        var writer: OpslogWriter?
        do {
            writer = try OpslogWriter.create(in: logDirectory, for: iteration)
        } catch {
            logger.error("\(error); this run's operations are not recorded")
        }
        var feed: LiveAuditFeed?
        // A dry run that repeats the last one writes no rows at all, so only real runs go live.
        if let store, let writer, !iteration.dryRun {
            do {
                if let id = try await stop.unlessStopped({ try await store.begin(iteration) }) {
                    let started = LiveAuditFeed(store: store, iterationID: id, iteration: iteration, logger: logger) {
                        let snapshot = progress.snapshot
                        return LivePlan(files: snapshot.planned, bytes: snapshot.plannedBytes, phase: snapshot.phase.rawValue)
                    }
                    writer.setTap { started.add($0) }
                    feed = started
                }
            } catch {
                logger.warning("could not record the run as running: \(error); it is recorded when it ends")
            }
        }
        return RunAudit(store: store, storeProblem: problem, flusher: flusher, writer: writer, feed: feed, logger: logger)
    }

    /// Flushes the opslogs earlier runs left behind (before this run writes its own: a fan-out
    /// run does it once for all its destinations).
    static func flushPending(_ flusher: OpslogFlusher, to store: any AuditStore, stop: StopSignal, logger: Logger) async {
        let flushed = try? await stop.unlessStopped { await flusher.flushPending(to: store) }
        if let (count, error) = flushed {
            if count > 0 { logger.info("flushed \(count) opslogs left by earlier runs") }
            if let error {
                logger.warning("audit flush of earlier opslogs failed: \(error); they stay for a later run")
            }
        }
    }

    /// Records an operation in the opslog.
    var observer: any SyncObserver { OpslogObserver(writer: writer) }

    enum Completion {
        /// A dry run planned exactly what the last successful one did: no rows were written.
        case dryRunAlreadyCurrent(since: Timestamp)
        case recorded
        /// The opslog stays in the log directory for a later run.
        case pending
    }

    /// Finishes the opslog, checks dry-run idempotency, flushes, applies retention (measured
    /// on `clock`). After a stop request the flush gets `stopGrace` at most; what it could not
    /// store waits in the opslog for the next run.
    func finish(_ iteration: IterationRecord, retainDays: Int, clock: any WallClock, stopped: Bool, stopGrace: Duration = .seconds(5)) async
        -> Completion
    {
        defer { flusher.removeExpired(olderThanDays: retainDays, now: clock.now) }
        guard let writer else { return .pending }
        do {
            try writer.finish(iteration)
        } catch {
            logger.error("\(error)")
        }
        guard let store else {
            logger.warning("audit flush pending: the store is unreachable (\(storeProblem ?? "unknown")); \(writer.path) stays for a later run")
            return .pending
        }
        if iteration.dryRun && iteration.status == .success {
            do {
                if let last = try await store.lastSuccessfulDryRun(pair: iteration.pair, direction: iteration.direction), last.digest == writer.digest
                {
                    try? FileManager.default.removeItem(atPath: writer.path)
                    return .dryRunAlreadyCurrent(since: last.startedAt)
                }
            } catch {
                logger.warning("could not compare with the last dry run: \(error); recording this one as new")
            }
        }
        do {
            let flusher = self.flusher
            let path = writer.path
            // Everything but the last few operations reached the store as they happened: store
            // those and complete the row, without reading the opslog back.
            let remainder = feed?.remainder(expecting: writer.operationCount)
            let flush: @Sendable () async throws -> Void = {
                if let remainder {
                    try await flusher.complete(path, iteration: iteration, remainder: remainder, in: store)
                } else {
                    _ = try await flusher.flush(path, to: store)
                }
            }
            if stopped {
                let done = try await Self.within(stopGrace, clock: clock) { try await flush() }
                guard done else {
                    logger.warning("audit flush pending: the store did not answer in time after the stop; \(path) stays for a later run")
                    return .pending
                }
            } else {
                try await flush()
            }
            return .recorded
        } catch {
            logger.warning("audit flush pending: \(error); \(writer.path) stays for a later run")
            return .pending
        }
    }

    /// Runs `operation`, cancelling it after `limit` on `clock`. Returns whether it finished.
    static func within(_ limit: Duration, clock: any WallClock, _ operation: @escaping @Sendable () async throws -> Void) async throws -> Bool {
        let deadline = clock.now.advanced(by: limit)
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await operation()
                return true
            }
            group.addTask {
                try? await clock.sleep(until: deadline, tolerance: nil)
                return false
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    func close() async {
        await store?.close()
    }
}

/// Feeds finished operations to the opslog.
struct OpslogObserver: SyncObserver {
    let writer: OpslogWriter?

    func operationFinished(_ result: OperationResult) {
        writer?.append(result)
    }

    func skipped(_ path: RelativePath, reason: SkipReason) {}
}

/// Hands every event to several observers.
struct CompositeObserver: SyncObserver {
    let observers: [any SyncObserver]

    func operationFinished(_ result: OperationResult) {
        for observer in observers { observer.operationFinished(result) }
    }

    func skipped(_ path: RelativePath, reason: SkipReason) {
        for observer in observers { observer.skipped(path, reason: reason) }
    }
}
