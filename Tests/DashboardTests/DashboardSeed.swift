import AuditLog
import AuditTestSupport
import Foundation
import Logging
import SyncCore

/// A seeded SQLite audit store: one healthy pair, one whose last run failed (with a hostile
/// file name), one stale, and dry runs.
enum DashboardSeed {
    static let hostileName = "<img src=x onerror=alert(1)>"

    static func make() async throws -> (path: String, failedIterationID: Int64) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ha-sync-ui-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/ha-sync.db"
        let store = try await SQLiteAuditStore.open(path: path, logger: Logger(label: "seed"))
        let now = Timestamp.now().seconds
        func run(
            _ id: String, pair: String, direction: String = "dell-to-hp", dryRun: Bool = false, status: IterationRecord.Status = .success, ago: Int64,
            ops: [OperationRecord] = []
        ) async throws -> Int64 {
            var record = AuditStoreConformance.iteration(
                run: id, pair: pair, direction: direction, dryRun: dryRun, status: status, startedAt: now - ago)
            if status != .success { record.errorMessage = "1 paths failed; see the failed operations and the run's log" }
            var remaining = ops
            guard
                case .stored(let stored) = try await store.store(
                    record,
                    nextBatch: {
                        defer { remaining = [] }
                        return remaining.isEmpty ? nil : remaining
                    })
            else { throw AuditError("seed") }
            return stored
        }
        _ = try await run("m1", pair: "media", ago: 3600)
        _ = try await run("m2", pair: "media", ago: 600)
        _ = try await run("m3", pair: "media", direction: "hp-to-dell", ago: 300)
        _ = try await run("md", pair: "media", dryRun: true, ago: 120)
        _ = try await run("p1", pair: "photos", ago: 1200)
        let failed = try await run(
            "p2", pair: "photos", status: .partialFailure, ago: 60,
            ops: [
                OperationRecord(
                    sequence: 1, operation: .create, filepath: "ok.jpg", sizeAfter: 10, startedAt: Timestamp(seconds: now - 60), dryRun: false),
                OperationRecord(
                    sequence: 2, operation: .update, filepath: hostileName, sizeBefore: 1, sizeAfter: 2, startedAt: Timestamp(seconds: now - 60),
                    succeeded: false, errorMessage: "open '\(hostileName)': Permission denied", dryRun: false),
                // A conflict whose copy nobody resolved yet.
                OperationRecord(
                    sequence: 3, operation: .update, filepath: "notes/" + hostileName, sizeBefore: 1500, sizeAfter: 2048,
                    startedAt: Timestamp(seconds: now - 60), dryRun: false, direction: "a-to-b", conflict: true),
                OperationRecord(
                    sequence: 4, operation: .create, filepath: "notes/" + hostileName + ".conflict-hp-20261202-120000", sizeAfter: 1500,
                    startedAt: Timestamp(seconds: now - 60), dryRun: false, direction: "b-to-a"),
            ])
        _ = try await run("g1", pair: "games", ago: 3 * 86_400)
        // A fan-out run to three caches; the third failed.
        for (index, status) in [IterationRecord.Status.success, .success, .failed].enumerated() {
            var record = AuditStoreConformance.iteration(
                run: "n\(index)", pair: "netboot", direction: "fwd.\(index + 1)", status: status, startedAt: now - 90)
            record.destination = "/srv/cache-\(index + 1)"
            record.fanOutID = "6b1f0c1e-0000-4000-8000-000000000001"
            _ = try await store.store(record, nextBatch: { nil })
        }
        // A run in progress, as the live feed leaves it: a running row with its counters so far.
        var infra = IterationRecord(
            runID: "i1", pair: "infra", direction: "dell-to-hp", source: "/mnt/dell/infra", destination: "/mnt/hp/infra",
            startedAt: Timestamp(seconds: now - 30), dryRun: false)
        let running = try await store.begin(infra)
        infra.filesCreated = 42
        infra.bytesTransferred = 1 << 20
        infra.filesPlanned = 100
        infra.bytesPlanned = 4 << 20
        infra.phase = "copying"
        try await store.append(
            [
                OperationRecord(
                    sequence: 1, operation: .create, filepath: "a.conf", sizeAfter: 1 << 20, startedAt: Timestamp(seconds: now - 20), dryRun: false)
            ],
            progress: infra, iterationID: running)
        // And one stuck since a killed run three days ago.
        _ = try await store.begin(
            IterationRecord(
                runID: "a1", pair: "ai", direction: "dell-to-hp", source: "/mnt/dell/ai", destination: "/mnt/hp/ai",
                startedAt: Timestamp(seconds: now - 3 * 86_400), dryRun: false))
        await store.close()
        return (path, failed)
    }
}
