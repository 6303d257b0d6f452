import SyncCore

/// Builds stored records from a row of the audit tables, whatever store read it: `value`
/// returns a column's value as text (`nil` for SQL NULL or a missing column).
extension StoredIteration {
    public init(row value: (String) -> String?) throws {
        func int(_ name: String) -> Int { value(name).flatMap { Int($0) } ?? 0 }
        guard let id = value("id").flatMap({ Int64($0) }), let started = value("started_at").flatMap(SQLTime.parse) else {
            throw AuditError("malformed row in sync_iterations")
        }
        var record = IterationRecord(
            runID: value("run_id") ?? "", pair: value("sync_pair") ?? "", direction: value("direction") ?? "",
            source: value("src") ?? "", destination: value("dest") ?? "", startedAt: started, dryRun: int("dry_run") != 0,
            status: IterationRecord.Status(rawValue: value("status") ?? "") ?? .failed)
        record.endedAt = value("ended_at").flatMap(SQLTime.parse)
        record.filesCreated = int("files_created")
        record.filesUpdated = int("files_updated")
        record.filesDeleted = int("files_deleted")
        record.filesSkipped = int("files_skipped")
        record.filesFailed = int("files_failed")
        record.conflicts = int("files_conflicted")
        record.versionsKept = int("versions_kept")
        record.versionsPruned = int("versions_pruned")
        record.versionStoreFiles = int("version_store_files")
        record.versionStoreBytes = value("version_store_bytes").flatMap { Int64($0) } ?? 0
        record.filterFingerprint = value("filter_fingerprint")
        record.filterRules = value("filter_rules")
        record.bytesTransferred = value("total_bytes_transferred").flatMap { Int64($0) } ?? 0
        record.errorMessage = value("error_message")
        record.filesPlanned = int("files_planned")
        record.bytesPlanned = value("bytes_planned").flatMap { Int64($0) } ?? 0
        record.phase = value("phase")
        record.fanOutID = value("fan_out_id")
        self.init(id: id, record: record)
    }
}

extension StoredOperation {
    public init(row value: (String) -> String?) throws {
        func int64(_ name: String) -> Int64? { value(name).flatMap { Int64($0) } }
        guard let id = int64("id"), let iterationID = int64("iteration_id"), let operation = value("operation").flatMap(Operation.init(rawValue:)),
            let started = value("started_at").flatMap(SQLTime.parse)
        else { throw AuditError("malformed row in sync_operations") }
        let record = OperationRecord(
            sequence: Int(int64("seq") ?? 0), operation: operation, filepath: value("filepath") ?? "",
            filepathEscaped: int64("filepath_escaped") != 0,
            sizeBefore: int64("size_before"), sizeAfter: int64("size_after"), md5Before: value("md5_before"), md5After: value("md5_after"),
            startedAt: started, endedAt: value("ended_at").flatMap(SQLTime.parse), succeeded: value("status") == "success",
            errorMessage: value("error_message"), dryRun: int64("dry_run") == 1, direction: value("direction"),
            conflict: int64("conflict") == 1)
        self.init(id: id, iterationID: iterationID, record: record)
    }
}
