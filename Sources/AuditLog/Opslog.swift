public import SyncCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The opslog: one JSON object per line, written during a run and flushed to the audit store
/// after it.
///
/// - line 1, `"type":"header"`: the run (id, pair, direction, roots, start, dry run);
/// - one `"type":"op"` line per operation, numbered by `seq` from 1, as each completes;
/// - last, `"type":"footer"`: the final status, counters and error.
///
/// Times are integer nanoseconds since the epoch (`*_ns`). A run that was killed has no
/// footer; a crash can leave at most one torn last line, which readers ignore.
public enum Opslog {
    public static let formatVersion = 1
    static let prefix = "opslog-"
    static let suffix = ".jsonl"

    /// `opslog-<pair>-<direction>-<UTC time>.jsonl`, e.g. `opslog-media-dell-to-hp-20261121T071500.123Z.jsonl`.
    public static func fileName(pair: String, direction: String, startedAt: Timestamp) -> String {
        "\(prefix)\(pair)-\(direction)-\(compactTime(startedAt))\(suffix)"
    }

    /// Whether a directory entry is an opslog.
    public static func isOpslog(_ name: String) -> Bool {
        name.hasPrefix(prefix) && name.hasSuffix(suffix)
    }

    /// The time part of an opslog's name, which sorts oldest first.
    static func sortKey(_ name: String) -> String {
        let stem = name.dropLast(suffix.count)
        guard let dash = stem.lastIndex(of: "-") else { return name }
        return String(stem[stem.index(after: dash)...]) + name
    }

    static func compactTime(_ time: Timestamp) -> String {
        var seconds = time_t(time.seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int(time.nanoseconds / 1_000_000)
        let fraction = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return
            "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec)).\(fraction)Z"
    }

    static func headerLine(_ iteration: IterationRecord) -> [UInt8] {
        var line = FlatJSONLine()
        line.add("type", "header")
        line.add("version", formatVersion)
        line.add("run_id", iteration.runID)
        line.add("pair", iteration.pair)
        line.add("direction", iteration.direction)
        line.add("src", iteration.source)
        line.add("dest", iteration.destination)
        line.add("started_at_ns", iteration.startedAt.totalNanoseconds)
        line.add("dry_run", iteration.dryRun)
        line.add("fan_out_id", iteration.fanOutID)
        return line.finish()
    }

    static func operationLine(_ record: OperationRecord) -> [UInt8] {
        var line = FlatJSONLine()
        line.add("type", "op")
        line.add("seq", record.sequence)
        line.add("operation", record.operation.rawValue)
        line.add("filepath", record.filepath)
        line.add("filepath_escaped", record.filepathEscaped)
        line.add("size_before", record.sizeBefore)
        line.add("size_after", record.sizeAfter)
        line.add("md5_before", record.md5Before)
        line.add("md5_after", record.md5After)
        line.add("started_at_ns", record.startedAt.totalNanoseconds)
        line.add("ended_at_ns", record.endedAt?.totalNanoseconds)
        line.add("status", record.succeeded ? "success" : "fail")
        line.add("error_message", record.errorMessage)
        line.add("dry_run", record.dryRun)
        if let direction = record.direction { line.add("direction", direction) }
        if record.conflict { line.add("conflict", true) }
        return line.finish()
    }

    static func footerLine(_ iteration: IterationRecord, operations: Int) -> [UInt8] {
        var line = FlatJSONLine()
        line.add("type", "footer")
        line.add("status", iteration.status.rawValue)
        line.add("ended_at_ns", iteration.endedAt?.totalNanoseconds)
        line.add("files_created", iteration.filesCreated)
        line.add("files_updated", iteration.filesUpdated)
        line.add("files_deleted", iteration.filesDeleted)
        line.add("files_skipped", iteration.filesSkipped)
        line.add("files_failed", iteration.filesFailed)
        line.add("files_conflicted", iteration.conflicts)
        line.add("versions_kept", iteration.versionsKept)
        line.add("versions_pruned", iteration.versionsPruned)
        line.add("version_store_files", iteration.versionStoreFiles)
        line.add("version_store_bytes", iteration.versionStoreBytes)
        line.add("filter_fingerprint", iteration.filterFingerprint)
        line.add("filter_rules", iteration.filterRules)
        line.add("total_bytes_transferred", iteration.bytesTransferred)
        line.add("error_message", iteration.errorMessage)
        line.add("operations", operations)
        return line.finish()
    }
}

extension Timestamp {
    init(nanoseconds total: Int64) {
        let seconds = total >= 0 ? total / 1_000_000_000 : (total - 999_999_999) / 1_000_000_000
        self.init(seconds: seconds, nanoseconds: total - seconds * 1_000_000_000)
    }
}
