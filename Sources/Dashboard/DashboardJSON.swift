import AuditLog
import Foundation
import SyncCore

/// The JSON the dashboard's API returns (documented in docs/api.md).
enum DashboardJSON {
    struct Iteration: Codable, Sendable {
        var id: Int64
        var pair: String
        var direction: String
        var src: String
        var dest: String
        var startedAt: String
        var endedAt: String?
        var durationSeconds: Double?
        var status: String
        var dryRun: Bool
        var filesCreated: Int
        var filesUpdated: Int
        var filesDeleted: Int
        var filesSkipped: Int
        var filesFailed: Int
        /// Paths changed on both sides in a bidirectional run (each kept a conflict copy).
        var filesConflicted: Int
        /// Versions kept and pruned by the run, and what the pair's version stores hold after it.
        var versionsKept: Int
        var versionsPruned: Int
        var versionStoreFiles: Int
        var versionStoreBytes: Int64
        /// The run's filter rules (fingerprint, and the rules one per line); `null` without filters.
        var filterFingerprint: String?
        var filterRules: String?
        var bytesTransferred: Int64
        var errorMessage: String?
        /// A running run's plan so far and phase (0, 0, nil once it ended).
        var filesPlanned: Int
        var bytesPlanned: Int64
        var phase: String?
        /// The id the destinations of one fan-out run share; `null` for a run with one destination.
        var fanOutId: String?

        init(_ stored: StoredIteration) {
            let record = stored.record
            id = stored.id
            pair = record.pair
            direction = record.direction
            src = record.source
            dest = record.destination
            startedAt = DashboardJSON.time(record.startedAt)
            endedAt = record.endedAt.map(DashboardJSON.time)
            durationSeconds = record.endedAt.map { Double($0.nanoseconds(since: record.startedAt)) / 1e9 }
            status = record.status.rawValue
            dryRun = record.dryRun
            filesCreated = record.filesCreated
            filesUpdated = record.filesUpdated
            filesDeleted = record.filesDeleted
            filesSkipped = record.filesSkipped
            filesFailed = record.filesFailed
            filesConflicted = record.conflicts
            versionsKept = record.versionsKept
            versionsPruned = record.versionsPruned
            versionStoreFiles = record.versionStoreFiles
            versionStoreBytes = record.versionStoreBytes
            filterFingerprint = record.filterFingerprint
            filterRules = record.filterRules
            bytesTransferred = record.bytesTransferred
            errorMessage = record.errorMessage
            filesPlanned = record.filesPlanned
            bytesPlanned = record.bytesPlanned
            phase = record.phase
            fanOutId = record.fanOutID
        }
    }

    struct Pair: Codable, Sendable {
        var pair: String
        var direction: String
        var lastReal: Iteration?
        var lastDryRun: Iteration?
        var lastSuccessAt: String?
        /// `ok`, `failed` (last real run failed or partly failed), `running`, `stale` (no
        /// success within the window, or a run left running), or `never` (no real run yet).
        var state: String
    }

    struct Pairs: Codable, Sendable {
        var pairs: [Pair]
        var generatedAt: String
        var staleAfterSeconds: Int
        var refreshSeconds: Int
    }

    struct Iterations: Codable, Sendable {
        var iterations: [Iteration]
        /// Pass as `before` for the next (older) page; `null` on the last page.
        var nextBefore: Int64?
    }

    struct Operation: Codable, Sendable {
        var id: Int64
        var seq: Int
        var operation: String
        var filepath: String
        var sizeBefore: Int64?
        var sizeAfter: Int64?
        var md5Before: String?
        var md5After: String?
        var startedAt: String
        var endedAt: String?
        var status: String
        var errorMessage: String?
        var dryRun: Bool
        /// Bidirectional runs: `a-to-b` or `b-to-a`; `null` for one-way runs.
        var direction: String?
        var conflict: Bool

        init(_ stored: StoredOperation) {
            let record = stored.record
            id = stored.id
            seq = record.sequence
            operation = record.operation.rawValue
            filepath = record.displayPath
            sizeBefore = record.sizeBefore
            sizeAfter = record.sizeAfter
            md5Before = record.md5Before
            md5After = record.md5After
            startedAt = DashboardJSON.time(record.startedAt)
            endedAt = record.endedAt.map(DashboardJSON.time)
            status = record.succeeded ? "success" : "fail"
            errorMessage = record.errorMessage
            dryRun = record.dryRun
            direction = record.direction
            conflict = record.conflict
        }
    }

    /// A conflict and its copy (`GET /api/conflicts`).
    struct Conflict: Codable, Sendable {
        var iterationID: Int64
        var at: String
        /// The path both sides changed; the version that kept the name.
        var path: String
        var keptSize: Int64?
        var keptMd5: String?
        /// The other version, kept beside it as the conflict copy.
        var copyPath: String?
        var copySize: Int64?
        var copyMd5: String?
        /// The side whose version became the copy: `a` or `b` (from the record's direction).
        var copySide: String?
        /// A later run deleted the copy: someone resolved the conflict.
        var resolved: Bool

        init(_ stored: StoredConflict) {
            let record = stored.conflict.record
            iterationID = stored.conflict.iterationID
            at = DashboardJSON.time(record.startedAt)
            path = record.displayPath
            keptSize = record.sizeAfter
            keptMd5 = record.md5After
            copyPath = stored.copyPath.map { RelativePath.displayText(stored: $0, escaped: stored.copyPathEscaped) }
            copySize = record.sizeBefore
            copyMd5 = record.md5Before
            copySide = record.direction.map { $0 == "a-to-b" ? "b" : "a" }
            resolved = stored.resolved
        }
    }

    struct Conflicts: Codable, Sendable {
        var conflicts: [Conflict]
    }

    struct Operations: Codable, Sendable {
        var iteration: Iteration
        var operations: [Operation]
        /// Pass as `after` for the next page; `null` on the last page.
        var nextAfter: Int64?
    }

    struct Failure: Codable, Sendable {
        var error: String
    }

    /// ISO 8601 in UTC with milliseconds, which JavaScript's `Date` parses.
    static func time(_ timestamp: Timestamp) -> String {
        SQLTime.format(timestamp).replacingOccurrences(of: " ", with: "T") + "Z"
    }

    static func state(of status: PairStatus, now: Timestamp, staleAfter: Int) -> String {
        guard let last = status.lastReal else { return "never" }
        if last.record.status == .failed || last.record.status == .partialFailure { return "failed" }
        if last.record.status == .running {
            // A row still running after the stale window belongs to a run that was killed and
            // whose opslog no later run has flushed yet.
            return now.seconds - last.record.startedAt.seconds <= Int64(staleAfter) ? "running" : "stale"
        }
        guard let success = status.lastRealSuccess, now.seconds - success.seconds <= Int64(staleAfter) else { return "stale" }
        return "ok"
    }

    /// `GET /api/compare`: the latest dry run's differences of a pair.
    struct Comparison: Codable, Sendable {
        /// The dry run read, `null` when the pair has none yet.
        var iteration: Iteration?
        var counts: [String: Int]
        var rows: [ComparisonRow]
        /// More differences than `limit`: the counts cover only the rows read.
        var truncated: Bool
    }

    struct ComparisonRow: Codable, Sendable {
        var path: String
        var kind: String
        var operation: String
        var sizeBefore: Int64?
        var sizeAfter: Int64?
        var direction: String?
    }
}
