import AuditLog
import Foundation
import RunLock
import SyncCore
import SyncEngine
import SyncTrees

extension SyncRunner {
    /// What one destination of a fan-out run shares with the others.
    struct FanOutMember: Sendable {
        /// The id every destination's iteration carries.
        var runID: String
        var index: Int
        var listings: SharedListings
        /// The source, opened once for all.
        var source: Result<Source, any Error>
        var progress: SyncProgress
        var openStore: @Sendable () async throws -> any AuditStore
    }

    /// One source, several destinations, under the pair's one lock: the source is walked once
    /// and each destination runs at its own pace, with its own share of the workers, its own
    /// result and its own iteration in the audit trail. The exit status is the worst of them.
    func runFanOut(_ hold: any HeldLock) async -> RunOutcome {
        let destinations = configuration.destinations
        let runID = UUID().uuidString.lowercased()
        let listings = SharedListings(consumers: destinations.count)
        let source = Result { try parts.openSource() }
        // One audit store for all: the first destination opens it, the others wait for that.
        let store = SharedStoreOpener(open: parts.openStore)
        let members = destinations.indices.map { index in
            FanOutMember(
                runID: runID, index: index, listings: listings, source: source, progress: SyncProgress(), openStore: { try await store.open() })
        }
        progress.combine(members.map(\.progress))
        let stop = self.stop
        // Opslogs of earlier runs are flushed once, before any destination starts its own.
        if let opened = try? await stop.unlessStopped({ try await store.open() }) {
            await RunAudit.flushPending(OpslogFlusher(directory: configuration.logDirectory, logger: logger), to: opened, stop: stop, logger: logger)
        }
        logger.info(
            "fan-out run started",
            metadata: [
                "run_id": "\(runID)", "destinations": "\(destinations.count)",
                "workers_each": "\(RunConfiguration.fanOutWorkers(total: configuration.workers, destinations: destinations.count))",
            ])
        let outcomes = await withTaskGroup(of: (Int, RunOutcome)?.self) { group in
            group.addTask {
                // One heartbeat for the whole run; losing the lock stops every destination.
                await hold.maintain { reason in stop.stop(reason: "lost the run lock: \(reason)") }
                return nil
            }
            for member in members {
                let narrowed = configuration.forDestination(member.index)
                let destinationReporter = reporter.forDestination(narrowed.destination, direction: narrowed.direction)
                group.addTask {
                    let outcome = await runDestination(narrowed, fanOut: member, hold: hold, reporter: destinationReporter)
                    // A destination that is done (or failed) holds no listings back.
                    listings.leave(member.index)
                    return (member.index, outcome)
                }
            }
            var outcomes = [RunOutcome?](repeating: nil, count: destinations.count)
            var remaining = destinations.count
            while let next = await group.next() {
                guard let (index, outcome) = next else { continue }
                outcomes[index] = outcome
                remaining -= 1
                if remaining == 0 { group.cancelAll() }
            }
            return outcomes.map { $0 ?? RunOutcome(status: .failed, message: "the destination ended without an outcome") }
        }
        await store.close()
        progress.end()
        reporter.progressEnded()
        let statistics = listings.currentStatistics
        logger.info(
            "fan-out run finished",
            metadata: [
                "run_id": "\(runID)", "source_folders_read": "\(statistics.sharedReads)", "listings_shared": "\(statistics.hits)",
                "folders_reread": "\(statistics.rereads)",
            ])
        reporter.fanOutFinished(
            destinations.indices.map { FanOutResult(destination: destinations[$0], status: outcomes[$0].status, message: outcomes[$0].message) })
        return Self.combine(outcomes)
    }

    /// The run's outcome: the worst destination's status; the failed destinations' messages.
    static func combine(_ outcomes: [RunOutcome]) -> RunOutcome {
        let worst = outcomes.map(\.status).max { ExitStatus.severity($0) < ExitStatus.severity($1) } ?? .success
        let messages = outcomes.compactMap(\.message)
        return RunOutcome(status: worst, message: messages.isEmpty ? nil : messages.joined(separator: "; "))
    }
}

/// How one destination of a fan-out run ended, for the final table.
public struct FanOutResult: Sendable {
    public var destination: String
    public var status: ExitStatus
    public var message: String?
}

extension ExitStatus {
    /// Which of two destinations' statuses a fan-out run reports: a stop by signal, then a
    /// failure, a refusal, failed files, success.
    static func severity(_ status: ExitStatus) -> Int {
        switch status {
        case .success: 0
        case .partialFailure: 1
        case .refused: 2
        case .failed, .usage: 3
        case .interrupted, .terminated: 4
        }
    }
}

/// Opens the audit store once for the destinations of a fan-out run; each gets a handle whose
/// close leaves it open, and the run closes it at the end.
actor SharedStoreOpener {
    private let openStore: @Sendable () async throws -> any AuditStore
    private var opening: Task<SharedAuditStore, any Error>?

    init(open: @escaping @Sendable () async throws -> any AuditStore) {
        self.openStore = open
    }

    func open() async throws -> any AuditStore {
        if opening == nil {
            let openStore = self.openStore
            opening = Task { SharedAuditStore(try await openStore()) }
        }
        return try await opening!.value
    }

    func close() async {
        if let store = try? await opening?.value { await store.base.close() }
    }
}
