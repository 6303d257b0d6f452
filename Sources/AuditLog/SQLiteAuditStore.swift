public import Logging
import NIOCore
import SQLiteNIO
public import SyncCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The audit store in an SQLite file: the default, at `<log-dir>/ha-sync.db`.
///
/// The schema mirrors the MySQL one of the specification (same tables, columns and
/// meanings), with the run id and the per-run sequence number as unique keys so a flush can
/// be repeated safely. `store` is not meant to be called concurrently on one instance.
public final class SQLiteAuditStore: AuditStore {
    public let path: String
    private let connection: SQLiteConnection
    /// Rows per multi-row INSERT: 500 × 13 parameters stays well under SQLite's limit.
    static let insertBatch = 500
    /// 2: `sync_operations.filepath_escaped` (names stored as they are unless they cannot be).
    /// 3: bidirectional runs: `sync_operations.direction` and `.conflict`, `sync_iterations.files_conflicted`.
    /// 4: operations `version` and `prune` (the version stores).
    /// 5: a running run's progress: `sync_iterations.files_planned`, `.bytes_planned`, `.phase`.
    public static let schemaVersion = 6

    private init(path: String, connection: SQLiteConnection) {
        self.path = path
        self.connection = connection
    }

    /// Opens (creating if needed) the database at `path` and prepares the schema. With
    /// `readOnly` (the dashboard), the file must exist and nothing is created or migrated.
    public static func open(path: String, readOnly: Bool = false, logger: Logger) async throws -> SQLiteAuditStore {
        if readOnly && access(path, R_OK) != 0 {
            throw AuditError("no SQLite audit database at \(path) yet (no run has been recorded there)")
        }
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        } catch {
            throw AuditError("cannot open the SQLite audit database \(path): \(Self.describe(error))")
        }
        let store = SQLiteAuditStore(path: path, connection: connection)
        do {
            // Other runs (the other direction, other pairs) write to the same file: wait for them.
            _ = try await connection.query("PRAGMA busy_timeout = 15000", [])
            if readOnly {
                _ = try await connection.query("PRAGMA query_only = 1", [])
            } else {
                try await store.prepare()
            }
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    public func prepare() async throws {
        try await run(
            """
            CREATE TABLE IF NOT EXISTS ha_sync_schema (version INTEGER NOT NULL)
            """)
        try await run(
            """
            CREATE TABLE IF NOT EXISTS sync_iterations (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id TEXT UNIQUE,
                sync_pair TEXT NOT NULL,
                direction TEXT NOT NULL,
                src TEXT NOT NULL,
                dest TEXT NOT NULL,
                started_at TEXT NOT NULL,
                ended_at TEXT,
                status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running','success','partial_failure','failed')),
                dry_run INTEGER NOT NULL DEFAULT 0,
                files_created INTEGER DEFAULT 0,
                files_updated INTEGER DEFAULT 0,
                files_deleted INTEGER DEFAULT 0,
                files_skipped INTEGER DEFAULT 0,
                files_failed INTEGER DEFAULT 0,
                files_conflicted INTEGER DEFAULT 0,
                versions_kept INTEGER DEFAULT 0,
                versions_pruned INTEGER DEFAULT 0,
                version_store_files INTEGER DEFAULT 0,
                version_store_bytes INTEGER DEFAULT 0,
                filter_fingerprint TEXT,
                filter_rules TEXT,
                total_bytes_transferred INTEGER DEFAULT 0,
                error_message TEXT,
                files_planned INTEGER DEFAULT 0,
                bytes_planned INTEGER DEFAULT 0,
                phase TEXT,
                fan_out_id TEXT
            )
            """)
        try await run("CREATE INDEX IF NOT EXISTS idx_pair ON sync_iterations (sync_pair)")
        try await run("CREATE INDEX IF NOT EXISTS idx_started ON sync_iterations (started_at)")
        try await run("CREATE INDEX IF NOT EXISTS idx_dry_run ON sync_iterations (dry_run)")
        try await run(
            """
            CREATE TABLE IF NOT EXISTS sync_operations (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                iteration_id INTEGER NOT NULL REFERENCES sync_iterations(id),
                seq INTEGER NOT NULL,
                dry_run INTEGER NOT NULL DEFAULT 0,
                operation TEXT NOT NULL CHECK (operation IN ('create','update','delete','version','prune')),
                filepath TEXT NOT NULL,
                filepath_escaped INTEGER NOT NULL DEFAULT 1,
                size_before INTEGER,
                size_after INTEGER,
                md5_before TEXT,
                md5_after TEXT,
                started_at TEXT NOT NULL,
                ended_at TEXT,
                status TEXT NOT NULL CHECK (status IN ('success','fail')),
                error_message TEXT,
                direction TEXT,
                conflict INTEGER NOT NULL DEFAULT 0,
                UNIQUE (iteration_id, seq)
            )
            """)
        try await run("CREATE INDEX IF NOT EXISTS idx_iteration ON sync_operations (iteration_id)")
        let versions = try await query("SELECT version FROM ha_sync_schema")
        let version = versions.first?.column("version")?.integer
        if let version, version > Self.schemaVersion {
            throw AuditError("the SQLite audit database \(path) has schema version \(version), newer than this ha-sync knows (\(Self.schemaVersion))")
        }
        // Version 1 escaped every path: its rows keep the column's default, 1.
        let columns = try await query("SELECT name FROM pragma_table_info('sync_operations')").compactMap { $0.column("name")?.string }
        if !columns.contains("filepath_escaped") {
            try await run("ALTER TABLE sync_operations ADD COLUMN filepath_escaped INTEGER NOT NULL DEFAULT 1")
        }
        if !columns.contains("direction") {
            try await run("ALTER TABLE sync_operations ADD COLUMN direction TEXT")
        }
        if !columns.contains("conflict") {
            try await run("ALTER TABLE sync_operations ADD COLUMN conflict INTEGER NOT NULL DEFAULT 0")
        }
        try await allowVersionOperations()
        let iterationColumns = try await query("SELECT name FROM pragma_table_info('sync_iterations')").compactMap { $0.column("name")?.string }
        for column in [
            "files_conflicted", "versions_kept", "versions_pruned", "version_store_files", "version_store_bytes", "files_planned", "bytes_planned",
        ]
        where !iterationColumns.contains(column) {
            try await run("ALTER TABLE sync_iterations ADD COLUMN \(column) INTEGER DEFAULT 0")
        }
        for column in ["filter_fingerprint", "filter_rules", "phase", "fan_out_id"] where !iterationColumns.contains(column) {
            try await run("ALTER TABLE sync_iterations ADD COLUMN \(column) TEXT")
        }
        try await run("CREATE INDEX IF NOT EXISTS idx_fan_out ON sync_iterations (fan_out_id)")
        if version == nil {
            try await run("INSERT INTO ha_sync_schema (version) VALUES (?)", [.integer(Self.schemaVersion)])
        } else if version! < Self.schemaVersion {
            try await run("UPDATE ha_sync_schema SET version = ?", [.integer(Self.schemaVersion)])
        }
    }

    /// Version 4: the `operation` column's CHECK admits `version` and `prune`. SQLite cannot
    /// change a CHECK in place, so an older table is rebuilt (rows, ids and order kept), in one
    /// transaction.
    private func allowVersionOperations() async throws {
        let definition =
            try await query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'sync_operations'").first?
            .column("sql")?.string ?? ""
        guard !definition.contains("'prune'") else { return }
        let columns = try await query("SELECT name FROM pragma_table_info('sync_operations')").compactMap { $0.column("name")?.string }
        let list = columns.joined(separator: ", ")
        try await run("BEGIN IMMEDIATE")
        do {
            try await run("ALTER TABLE sync_operations RENAME TO sync_operations_v3")
            let old = "CHECK (operation IN ('create','update','delete'))"
            let new = "CHECK (operation IN ('create','update','delete','version','prune'))"
            let newDefinition = definition.split(separator: old, omittingEmptySubsequences: false).joined(separator: new)
            guard newDefinition != definition else {
                throw AuditError("the SQLite audit database \(path) has an operations table this ha-sync cannot migrate")
            }
            try await run(newDefinition)
            try await run("INSERT INTO sync_operations (\(list)) SELECT \(list) FROM sync_operations_v3")
            try await run("DROP TABLE sync_operations_v3")
            try await run("CREATE INDEX IF NOT EXISTS idx_iteration ON sync_operations (iteration_id)")
            try await run("COMMIT")
        } catch {
            try? await run("ROLLBACK")
            throw error
        }
    }

    public func ping() async throws {
        _ = try await query("SELECT 1")
    }

    public func store(_ iteration: IterationRecord, nextBatch: () throws -> [OperationRecord]?) async throws -> StoreOutcome {
        try await run("BEGIN IMMEDIATE")
        do {
            let id: Int
            var storedThrough = 0
            if let existing = try await query("SELECT id, status FROM sync_iterations WHERE run_id = ?", [.text(iteration.runID)]).first,
                let existingID = existing.column("id")?.integer
            {
                guard existing.column("status")?.string == IterationRecord.Status.running.rawValue else {
                    try await run("COMMIT")
                    return .alreadyStored(iterationID: Int64(existingID))
                }
                // Recorded while it ran: add what is missing and complete the row.
                id = existingID
                storedThrough = try await lastSequence(iterationID: id)
                try await update(iteration, id: id)
            } else {
                id = try await insert(iteration)
            }
            while let batch = try nextBatch() {
                let missing = storedThrough == 0 ? batch[...] : batch.drop { $0.sequence <= storedThrough }
                for start in stride(from: missing.startIndex, to: missing.endIndex, by: Self.insertBatch) {
                    try await insert(missing[start..<min(start + Self.insertBatch, missing.endIndex)], iterationID: id)
                }
            }
            try await run("COMMIT")
            return .stored(iterationID: Int64(id))
        } catch {
            try? await run("ROLLBACK")
            throw error
        }
    }

    public func begin(_ iteration: IterationRecord) async throws -> Int64 {
        try await run("BEGIN IMMEDIATE")
        do {
            var running = iteration
            running.status = .running
            let id: Int
            if let existing = try await query("SELECT id FROM sync_iterations WHERE run_id = ?", [.text(iteration.runID)]).first?.column("id")?
                .integer
            {
                id = existing
            } else {
                id = try await insert(running)
            }
            try await run("COMMIT")
            return Int64(id)
        } catch {
            try? await run("ROLLBACK")
            throw error
        }
    }

    public func append(_ records: [OperationRecord], progress: IterationRecord, iterationID: Int64) async throws {
        try await run("BEGIN IMMEDIATE")
        do {
            var running = progress
            running.status = .running
            try await update(running, id: Int(iterationID))
            for start in stride(from: 0, to: records.count, by: Self.insertBatch) {
                try await insert(records[start..<min(start + Self.insertBatch, records.count)], iterationID: Int(iterationID))
            }
            try await run("COMMIT")
        } catch {
            try? await run("ROLLBACK")
            throw error
        }
    }

    /// The highest sequence number stored for a run (0 if none).
    private func lastSequence(iterationID: Int) async throws -> Int {
        try await query("SELECT COALESCE(MAX(seq), 0) AS last FROM sync_operations WHERE iteration_id = ?", [.integer(iterationID)])
            .first?.column("last")?.integer ?? 0
    }

    private func insert(_ iteration: IterationRecord) async throws -> Int {
        let inserted = try await query(
            """
            INSERT INTO sync_iterations (run_id, sync_pair, direction, src, dest, started_at, ended_at, status, dry_run,
                files_created, files_updated, files_deleted, files_skipped, files_failed, total_bytes_transferred, error_message,
                files_conflicted, versions_kept, versions_pruned, version_store_files, version_store_bytes, filter_fingerprint, filter_rules,
                files_planned, bytes_planned, phase, fan_out_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
            """,
            [
                .text(iteration.runID), .text(iteration.pair), .text(iteration.direction), .text(iteration.source),
                .text(iteration.destination), .text(SQLTime.format(iteration.startedAt)), Self.time(iteration.endedAt),
                .text(iteration.status.rawValue), .integer(iteration.dryRun ? 1 : 0),
            ] + Self.counters(iteration) + [Self.text(iteration.fanOutID)])
        guard let id = inserted.first?.column("id")?.integer else { throw AuditError("the SQLite store returned no id for the new run") }
        return id
    }

    /// Sets a stored run's end, status and counters.
    private func update(_ iteration: IterationRecord, id: Int) async throws {
        try await run(
            """
            UPDATE sync_iterations SET ended_at = ?, status = ?,
                files_created = ?, files_updated = ?, files_deleted = ?, files_skipped = ?, files_failed = ?, total_bytes_transferred = ?,
                error_message = ?, files_conflicted = ?, versions_kept = ?, versions_pruned = ?, version_store_files = ?,
                version_store_bytes = ?, filter_fingerprint = ?, filter_rules = ?, files_planned = ?, bytes_planned = ?, phase = ?
            WHERE id = ?
            """,
            [Self.time(iteration.endedAt), .text(iteration.status.rawValue)] + Self.counters(iteration) + [.integer(id)])
    }

    /// The values after `dry_run`, in the column order `insert` and `update` use.
    private static func counters(_ iteration: IterationRecord) -> [SQLiteData] {
        [
            .integer(iteration.filesCreated), .integer(iteration.filesUpdated), .integer(iteration.filesDeleted), .integer(iteration.filesSkipped),
            .integer(iteration.filesFailed), .integer(Int(iteration.bytesTransferred)), Self.text(iteration.errorMessage),
            .integer(iteration.conflicts), .integer(iteration.versionsKept), .integer(iteration.versionsPruned),
            .integer(iteration.versionStoreFiles), .integer(Int(iteration.versionStoreBytes)), Self.text(iteration.filterFingerprint),
            Self.text(iteration.filterRules), .integer(iteration.filesPlanned), .integer(Int(iteration.bytesPlanned)), Self.text(iteration.phase),
        ]
    }

    private func insert(_ records: ArraySlice<OperationRecord>, iterationID: Int) async throws {
        let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        let sql =
            "INSERT INTO sync_operations (iteration_id, seq, dry_run, operation, filepath, filepath_escaped, size_before, size_after, md5_before, md5_after, started_at, ended_at, status, error_message, direction, conflict) VALUES "
            + Array(repeating: row, count: records.count).joined(separator: ", ")
        var binds: [SQLiteData] = []
        binds.reserveCapacity(records.count * 16)
        for record in records {
            binds += [
                .integer(iterationID), .integer(record.sequence), .integer(record.dryRun ? 1 : 0), .text(record.operation.rawValue),
                .text(record.filepath), .integer(record.filepathEscaped ? 1 : 0), Self.integer(record.sizeBefore), Self.integer(record.sizeAfter),
                Self.text(record.md5Before),
                Self.text(record.md5After), .text(SQLTime.format(record.startedAt)), Self.time(record.endedAt),
                .text(record.succeeded ? "success" : "fail"), Self.text(record.errorMessage), Self.text(record.direction),
                .integer(record.conflict ? 1 : 0),
            ]
        }
        try await run(sql, binds)
    }

    public func lastSuccessfulDryRun(pair: String, direction: String) async throws -> DryRunFingerprint? {
        let rows = try await query(
            """
            SELECT id, started_at FROM sync_iterations
            WHERE sync_pair = ? AND direction = ? AND dry_run = 1 AND status = 'success'
            ORDER BY started_at DESC, id DESC LIMIT 1
            """, [.text(pair), .text(direction)])
        guard let row = rows.first, let id = row.column("id")?.integer, let started = row.column("started_at")?.string.flatMap(SQLTime.parse) else {
            return nil
        }
        let digest = SyncMutexBox(PlanDigest())
        try await connection.query(
            "SELECT filepath, filepath_escaped, operation, size_before FROM sync_operations WHERE iteration_id = ?", [.integer(id)]
        ) { row in
            guard let filepath = row.column("filepath")?.string, let operation = row.column("operation")?.string.flatMap(Operation.init(rawValue:))
            else { return }
            let escaped = row.column("filepath_escaped")?.integer != 0
            let size = row.column("size_before").flatMap { $0.isNull ? nil : $0.integer }.map(Int64.init)
            digest.withLock { $0.add(PlanKey(storedPath: filepath, escaped: escaped, operation: operation, sizeBefore: size)) }
        }
        return DryRunFingerprint(iterationID: Int64(id), startedAt: started, digest: digest.withLock { $0 })
    }

    public func pairStatuses() async throws -> [PairStatus] {
        let rows = try await query(
            """
            SELECT * FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY sync_pair, direction, dry_run ORDER BY started_at DESC, id DESC) AS position
                FROM sync_iterations
            ) WHERE position = 1
            """)
        let successes = try await query(
            "SELECT sync_pair, direction, MAX(started_at) AS last_success FROM sync_iterations WHERE dry_run = 0 AND status = 'success' GROUP BY sync_pair, direction"
        )
        var statuses: [String: PairStatus] = [:]
        for row in rows {
            let iteration = try Self.iteration(row)
            let key = iteration.record.pair + "\u{0}" + iteration.record.direction
            var status = statuses[key] ?? PairStatus(pair: iteration.record.pair, direction: iteration.record.direction)
            if iteration.record.dryRun { status.lastDryRun = iteration } else { status.lastReal = iteration }
            statuses[key] = status
        }
        for row in successes {
            guard let pair = row.column("sync_pair")?.string, let direction = row.column("direction")?.string else { continue }
            statuses[pair + "\u{0}" + direction]?.lastRealSuccess = row.column("last_success")?.string.flatMap(SQLTime.parse)
        }
        return statuses.values.sorted { ($0.pair, $0.direction) < ($1.pair, $1.direction) }
    }

    public func iterations(_ query: IterationQuery) async throws -> [StoredIteration] {
        var conditions: [String] = []
        var binds: [SQLiteData] = []
        if let pair = query.pair {
            conditions.append("sync_pair = ?")
            binds.append(.text(pair))
        }
        if let direction = query.direction {
            conditions.append("direction = ?")
            binds.append(.text(direction))
        }
        if let dryRun = query.dryRun {
            conditions.append("dry_run = ?")
            binds.append(.integer(dryRun ? 1 : 0))
        }
        if let before = query.beforeID {
            conditions.append("id < ?")
            binds.append(.integer(Int(before)))
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        binds.append(.integer(query.limit))
        return try await self.query("SELECT * FROM sync_iterations \(filter) ORDER BY id DESC LIMIT ?", binds).map(Self.iteration)
    }

    public func iteration(id: Int64) async throws -> StoredIteration? {
        try await query("SELECT * FROM sync_iterations WHERE id = ?", [.integer(Int(id))]).first.map(Self.iteration)
    }

    public func operations(_ query: OperationQuery) async throws -> [StoredOperation] {
        var sql = "SELECT * FROM sync_operations WHERE iteration_id = ?"
        var binds: [SQLiteData] = [.integer(Int(query.iterationID))]
        if let succeeded = query.succeeded {
            sql += " AND status = ?"
            binds.append(.text(succeeded ? "success" : "fail"))
        }
        if let after = query.afterID {
            sql += " AND id > ?"
            binds.append(.integer(Int(after)))
        }
        sql += " ORDER BY id LIMIT ?"
        binds.append(.integer(query.limit))
        return try await self.query(sql, binds).map(Self.operation)
    }

    public func conflicts(pair: String, limit: Int) async throws -> [StoredConflict] {
        let rows = try await query(
            """
            SELECT o.*, c.filepath AS copy_path, c.filepath_escaped AS copy_escaped,
                EXISTS (SELECT 1 FROM sync_operations d JOIN sync_iterations di ON di.id = d.iteration_id
                    WHERE di.sync_pair = i.sync_pair AND di.dry_run = 0 AND d.operation = 'delete' AND d.status = 'success'
                    AND d.filepath = c.filepath AND d.id > c.id) AS resolved
            FROM sync_operations o
            JOIN sync_iterations i ON i.id = o.iteration_id
            LEFT JOIN sync_operations c ON c.iteration_id = o.iteration_id AND c.seq = o.seq + 1 AND c.operation = 'create'
            WHERE i.sync_pair = ? AND i.dry_run = 0 AND o.conflict = 1 AND o.status = 'success'
            ORDER BY o.id DESC LIMIT ?
            """, [.text(pair), .integer(max(0, limit))])
        return try rows.map { row in
            let value = Self.text(row)
            return StoredConflict(
                conflict: try StoredOperation(row: value), copyPath: value("copy_path"), copyPathEscaped: value("copy_escaped") != "0",
                resolved: value("resolved") == "1")
        }
    }

    public func pruneHistory(before cutoff: Timestamp, batchSize: Int) async throws -> PruneResult {
        var result = PruneResult()
        let limit = SQLTime.format(cutoff)
        while true {
            let deleted = try await query(
                """
                DELETE FROM sync_operations WHERE id IN (
                    SELECT o.id FROM sync_operations o JOIN sync_iterations i ON o.iteration_id = i.id
                    WHERE i.started_at < ? LIMIT ?) RETURNING id
                """, [.text(limit), .integer(batchSize)]
            ).count
            result.operations += deleted
            if deleted < batchSize { break }
        }
        while true {
            let deleted = try await query(
                """
                DELETE FROM sync_iterations WHERE id IN (
                    SELECT id FROM sync_iterations i WHERE started_at < ?
                    AND NOT EXISTS (SELECT 1 FROM sync_operations o WHERE o.iteration_id = i.id) LIMIT ?) RETURNING id
                """, [.text(limit), .integer(batchSize)]
            ).count
            result.iterations += deleted
            if deleted < batchSize { break }
        }
        return result
    }

    public func close() async {
        // The future-based close is not cancellable: a run stopped or cancelled mid-way must
        // still close the connection (sqlite-nio traps when an open connection is released).
        let closing: EventLoopFuture<Void> = connection.close()
        try? await closing.get()
    }

    // MARK: Helpers

    private func run(_ sql: String, _ binds: [SQLiteData] = []) async throws {
        _ = try await query(sql, binds)
    }

    private func query(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        do {
            return try await connection.query(sql, binds)
        } catch {
            throw AuditError("SQLite audit database \(path): \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? SQLiteError { return error.message }
        return "\(error)"
    }

    private static func text(_ value: String?) -> SQLiteData { value.map { .text($0) } ?? .null }
    private static func integer(_ value: Int64?) -> SQLiteData { value.map { .integer(Int($0)) } ?? .null }
    private static func time(_ value: Timestamp?) -> SQLiteData { value.map { .text(SQLTime.format($0)) } ?? .null }

    /// A column as text, `nil` for NULL: the form ``StoredIteration/init(row:)`` reads.
    private static func text(_ row: SQLiteRow) -> (String) -> String? {
        { name in row.column(name).flatMap { $0.isNull ? nil : $0.string } }
    }

    private static func iteration(_ row: SQLiteRow) throws -> StoredIteration {
        try StoredIteration(row: text(row))
    }

    private static func operation(_ row: SQLiteRow) throws -> StoredOperation {
        try StoredOperation(row: text(row))
    }
}
