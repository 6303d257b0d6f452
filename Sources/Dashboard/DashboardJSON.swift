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
        var started_at: String
        var ended_at: String?
        var duration_seconds: Double?
        var status: String
        var dry_run: Bool
        var files_created: Int
        var files_updated: Int
        var files_deleted: Int
        var files_skipped: Int
        var files_failed: Int
        var bytes_transferred: Int64
        var error_message: String?

        init(_ stored: StoredIteration) {
            let record = stored.record
            id = stored.id
            pair = record.pair
            direction = record.direction
            src = record.source
            dest = record.destination
            started_at = DashboardJSON.time(record.startedAt)
            ended_at = record.endedAt.map(DashboardJSON.time)
            duration_seconds = record.endedAt.map { Double($0.nanoseconds(since: record.startedAt)) / 1e9 }
            status = record.status.rawValue
            dry_run = record.dryRun
            files_created = record.filesCreated
            files_updated = record.filesUpdated
            files_deleted = record.filesDeleted
            files_skipped = record.filesSkipped
            files_failed = record.filesFailed
            bytes_transferred = record.bytesTransferred
            error_message = record.errorMessage
        }
    }

    struct Pair: Codable, Sendable {
        var pair: String
        var direction: String
        var last_real: Iteration?
        var last_dry_run: Iteration?
        var last_success_at: String?
        /// `ok`, `failed` (last real run failed or partly failed), `stale` (no success within
        /// the window), or `never` (no real run yet).
        var state: String
    }

    struct Pairs: Codable, Sendable {
        var pairs: [Pair]
        var generated_at: String
        var stale_after_seconds: Int
        var refresh_seconds: Int
    }

    struct Iterations: Codable, Sendable {
        var iterations: [Iteration]
        /// Pass as `before` for the next (older) page; `null` on the last page.
        var next_before: Int64?
    }

    struct Operation: Codable, Sendable {
        var id: Int64
        var seq: Int
        var operation: String
        var filepath: String
        var size_before: Int64?
        var size_after: Int64?
        var md5_before: String?
        var md5_after: String?
        var started_at: String
        var ended_at: String?
        var status: String
        var error_message: String?
        var dry_run: Bool

        init(_ stored: StoredOperation) {
            let record = stored.record
            id = stored.id
            seq = record.sequence
            operation = record.operation.rawValue
            filepath = record.filepath
            size_before = record.sizeBefore
            size_after = record.sizeAfter
            md5_before = record.md5Before
            md5_after = record.md5After
            started_at = DashboardJSON.time(record.startedAt)
            ended_at = record.endedAt.map(DashboardJSON.time)
            status = record.succeeded ? "success" : "fail"
            error_message = record.errorMessage
            dry_run = record.dryRun
        }
    }

    struct Operations: Codable, Sendable {
        var iteration: Iteration
        var operations: [Operation]
        /// Pass as `after` for the next page; `null` on the last page.
        var next_after: Int64?
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
        guard let success = status.lastRealSuccess, now.seconds - success.seconds <= Int64(staleAfter) else { return "stale" }
        return "ok"
    }
}
