public import AuditLog
public import Logging
public import MariaDB
import NIOPosix
public import SyncCore
import Synchronization

/// The audit store in MySQL (or MariaDB): `general_db` in the cluster.
///
/// The tables are the specification's, with the same column names and types, plus:
/// `sync_iterations.run_id` and `sync_operations.seq` with unique keys (idempotent flushes),
/// and `sync_operations.filepath_hash`, a stored MD5 of the path with an index, because
/// InnoDB cannot index a 4096-character column. An existing `general_db` that has the
/// specification's tables is migrated in place: the columns are added, no row is lost.
///
/// Every call runs on a thread of the store's own, never on Swift's cooperative pool, and
/// the connection's read and write timeouts bound how long a hung server can hold a run.
public final class MySQLAuditStore: AuditStore {
    public let configuration: MariaDBConfiguration
    private let pool: NIOThreadPool
    private let connection: MariaDBConnection
    private let logger: Logger
    /// Set when a call was abandoned by cancellation: the connection is no longer usable.
    private let abandoned = Atomic<Bool>(false)
    /// The server's `max_allowed_packet`: INSERT statements stay below it.
    public let maxPacketBytes: Int
    /// 2: `sync_operations.filepath_escaped` (names stored as they are unless they cannot be).
    /// 3: bidirectional runs: `sync_operations.direction` and `.conflict`, `sync_iterations.files_conflicted`.
    /// 4: operations `version` and `prune` (the version stores).
    /// 5: a running run's progress (`files_planned`, `bytes_planned`, `phase`).
    public static let schemaVersion = 6
    /// Rows per page when reading many operations.
    static let pageSize = 10_000

    private init(configuration: MariaDBConfiguration, pool: NIOThreadPool, connection: MariaDBConnection, maxPacketBytes: Int, logger: Logger) {
        self.configuration = configuration
        self.pool = pool
        self.connection = connection
        self.maxPacketBytes = maxPacketBytes
        self.logger = logger
    }

    /// Connects, and creates or migrates the schema (unless `readOnly`: the dashboard only reads).
    public static func open(configuration: MariaDBConfiguration, readOnly: Bool = false, logger: Logger) async throws -> MySQLAuditStore {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        do {
            let (connection, packet) = try await pool.runAbandoningOnCancel(
                { () throws -> (MariaDBConnection, Int) in
                    do {
                        let connection = try MariaDBConnection(configuration: configuration)
                        // DATETIME has no time zone: the audit tables hold UTC.
                        try connection.execute("SET time_zone = '+00:00'")
                        let packet = Int(try connection.query("SELECT @@max_allowed_packet AS packet").value("packet", row: 0) ?? "") ?? 1 << 20
                        return (connection, packet)
                    } catch let error as MariaDBError {
                        throw Self.auditError(error, configuration)
                    }
                }, discard: { connection, _ in connection.close() })
            let store = MySQLAuditStore(configuration: configuration, pool: pool, connection: connection, maxPacketBytes: packet, logger: logger)
            do {
                if !readOnly { try await store.prepare() }
            } catch {
                await store.close()
                throw error
            }
            return store
        } catch is CancellationError {
            // The connect may still be blocked on its thread: do not wait for it.
            pool.shutdownGracefully { _ in }
            throw CancellationError()
        } catch {
            try? await pool.shutdownGracefully()
            throw error
        }
    }

    static func auditError(_ error: MariaDBError, _ configuration: MariaDBConfiguration) -> AuditError {
        AuditError("MySQL audit store \(configuration.user)@\(configuration.displayName): \(error)")
    }

    /// Runs `body` with the connection on the store's thread; MariaDB errors become `AuditError`s.
    @discardableResult
    private func onConnection<T: Sendable>(_ body: @escaping @Sendable (MariaDBConnection) throws -> T) async throws -> T {
        let configuration = self.configuration
        let connection = self.connection
        do {
            return try await pool.runAbandoningOnCancel {
                do {
                    return try body(connection)
                } catch let error as MariaDBError {
                    throw Self.auditError(error, configuration)
                }
            }
        } catch is CancellationError {
            abandoned.store(true, ordering: .relaxed)
            throw CancellationError()
        }
    }

    // MARK: Schema

    static let iterationColumns = """
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        sync_pair VARCHAR(255) NOT NULL,
        direction VARCHAR(64) NOT NULL,
        src VARCHAR(512) NOT NULL,
        dest VARCHAR(512) NOT NULL,
        started_at DATETIME(3) NOT NULL,
        ended_at DATETIME(3),
        status ENUM('running','success','partial_failure','failed') NOT NULL DEFAULT 'running',
        dry_run TINYINT(1) NOT NULL DEFAULT 0,
        files_created INT DEFAULT 0,
        files_updated INT DEFAULT 0,
        files_deleted INT DEFAULT 0,
        files_skipped INT DEFAULT 0,
        files_failed INT DEFAULT 0,
        total_bytes_transferred BIGINT DEFAULT 0,
        error_message TEXT,
        INDEX idx_pair (sync_pair),
        INDEX idx_started (started_at),
        INDEX idx_dry_run (dry_run)
        """

    static let operationColumns = """
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        iteration_id BIGINT NOT NULL,
        dry_run TINYINT(1) NOT NULL DEFAULT 0,
        operation ENUM('create','update','delete') NOT NULL,
        filepath VARCHAR(4096) NOT NULL,
        size_before BIGINT,
        size_after BIGINT,
        md5_before VARCHAR(32),
        md5_after VARCHAR(32),
        started_at DATETIME(3) NOT NULL,
        ended_at DATETIME(3),
        status ENUM('success','fail') NOT NULL,
        error_message VARCHAR(4096),
        INDEX idx_iteration (iteration_id),
        CONSTRAINT fk_iteration FOREIGN KEY (iteration_id) REFERENCES sync_iterations(id)
        """

    /// What ha-sync adds to the specification's tables, and how to add it to an existing one.
    static let additions: [(table: String, column: String, alter: String)] = [
        ("sync_iterations", "run_id", "ALTER TABLE sync_iterations ADD COLUMN run_id CHAR(36) NULL, ADD UNIQUE KEY uq_run_id (run_id)"),
        ("sync_operations", "seq", "ALTER TABLE sync_operations ADD COLUMN seq INT NULL, ADD UNIQUE KEY uq_iteration_seq (iteration_id, seq)"),
        (
            "sync_operations", "filepath_hash",
            "ALTER TABLE sync_operations ADD COLUMN filepath_hash BINARY(16) AS (UNHEX(MD5(filepath))) STORED, ADD INDEX idx_filepath_hash (filepath_hash)"
        ),
        // Version 1 escaped every path: its rows keep the default, 1.
        ("sync_operations", "filepath_escaped", "ALTER TABLE sync_operations ADD COLUMN filepath_escaped TINYINT(1) NOT NULL DEFAULT 1"),
        ("sync_operations", "direction", "ALTER TABLE sync_operations ADD COLUMN direction VARCHAR(8) NULL"),
        ("sync_operations", "conflict", "ALTER TABLE sync_operations ADD COLUMN conflict TINYINT(1) NOT NULL DEFAULT 0"),
        ("sync_iterations", "files_conflicted", "ALTER TABLE sync_iterations ADD COLUMN files_conflicted INT DEFAULT 0"),
        ("sync_iterations", "versions_kept", "ALTER TABLE sync_iterations ADD COLUMN versions_kept INT DEFAULT 0"),
        ("sync_iterations", "versions_pruned", "ALTER TABLE sync_iterations ADD COLUMN versions_pruned INT DEFAULT 0"),
        ("sync_iterations", "version_store_files", "ALTER TABLE sync_iterations ADD COLUMN version_store_files INT DEFAULT 0"),
        ("sync_iterations", "version_store_bytes", "ALTER TABLE sync_iterations ADD COLUMN version_store_bytes BIGINT DEFAULT 0"),
        ("sync_iterations", "filter_fingerprint", "ALTER TABLE sync_iterations ADD COLUMN filter_fingerprint CHAR(16) NULL"),
        ("sync_iterations", "filter_rules", "ALTER TABLE sync_iterations ADD COLUMN filter_rules TEXT NULL"),
        ("sync_iterations", "files_planned", "ALTER TABLE sync_iterations ADD COLUMN files_planned INT DEFAULT 0"),
        ("sync_iterations", "bytes_planned", "ALTER TABLE sync_iterations ADD COLUMN bytes_planned BIGINT DEFAULT 0"),
        ("sync_iterations", "phase", "ALTER TABLE sync_iterations ADD COLUMN phase VARCHAR(16) NULL"),
        ("sync_iterations", "fan_out_id", "ALTER TABLE sync_iterations ADD COLUMN fan_out_id CHAR(36) NULL, ADD INDEX idx_fan_out (fan_out_id)"),
    ]

    public func prepare() async throws {
        let logger = self.logger
        try await onConnection { connection in
            let options = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
            try connection.execute("CREATE TABLE IF NOT EXISTS sync_iterations (\(Self.iterationColumns)) \(options)")
            try connection.execute("CREATE TABLE IF NOT EXISTS sync_operations (\(Self.operationColumns)) \(options)")
            try connection.execute("CREATE TABLE IF NOT EXISTS ha_sync_schema (version INT NOT NULL) \(options)")
            let existing = try connection.query(
                """
                SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('sync_iterations', 'sync_operations')
                """)
            let present = Set(existing.rows.map { "\($0[0] ?? "").\($0[1] ?? "")" })
            for addition in Self.additions where !present.contains("\(addition.table).\(addition.column)") {
                logger.notice("migrating the audit schema: adding \(addition.table).\(addition.column)")
                try connection.execute(addition.alter)
            }
            let operationType = try connection.query(
                """
                SELECT COLUMN_TYPE AS t FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sync_operations' AND COLUMN_NAME = 'operation'
                """)
            if let type = operationType.rows.first?[0] ?? nil, !type.contains("'prune'") {
                logger.notice("migrating the audit schema: sync_operations.operation admits version and prune")
                try connection.execute(
                    "ALTER TABLE sync_operations MODIFY operation ENUM('create','update','delete','version','prune') NOT NULL")
            }
            let versions = try connection.query("SELECT version FROM ha_sync_schema")
            if versions.rows.isEmpty {
                try connection.execute("INSERT INTO ha_sync_schema (version) VALUES (\(Self.schemaVersion))")
            } else if let version = Int(versions.rows[0][0] ?? ""), version > Self.schemaVersion {
                throw MariaDBError(code: 0, message: "the audit schema has version \(version), newer than this ha-sync knows (\(Self.schemaVersion))")
            } else {
                try connection.execute("UPDATE ha_sync_schema SET version = \(Self.schemaVersion) WHERE version < \(Self.schemaVersion)")
            }
        }
    }

    public func ping() async throws {
        try await onConnection { try $0.ping() }
    }

    // MARK: Writing

    public func store(_ iteration: IterationRecord, nextBatch: () throws -> [OperationRecord]?) async throws -> StoreOutcome {
        try await onConnection { try $0.execute("START TRANSACTION") }
        do {
            // (id, highest stored sequence) of a row recorded while the run ran; (-id, 0) if complete.
            let (id, storedThrough): (Int64, Int) = try await onConnection { connection in
                let existing = try connection.query(
                    "SELECT id, status FROM sync_iterations WHERE run_id = \(try connection.literal(iteration.runID)) FOR UPDATE")
                if let row = existing.rows.first, let value = row[0], let id = Int64(value) {
                    guard row[1] == IterationRecord.Status.running.rawValue else { return (-id, 0) }
                    let last = try connection.query("SELECT COALESCE(MAX(seq), 0) FROM sync_operations WHERE iteration_id = \(id)")
                    try connection.execute(try Self.updateStatement(iteration, id: id, connection))
                    return (id, last.rows.first?[0].flatMap { Int($0) } ?? 0)
                }
                try connection.execute(try Self.insertStatement(iteration, connection))
                return (Int64(connection.lastInsertID), 0)
            }
            if id < 0 {
                try await onConnection { try $0.execute("COMMIT") }
                return .alreadyStored(iterationID: -id)
            }
            while let batch = try nextBatch() {
                let missing = storedThrough == 0 ? batch[...] : batch.drop { $0.sequence <= storedThrough }
                try await insert(missing, iterationID: id)
            }
            try await onConnection { try $0.execute("COMMIT") }
            return .stored(iterationID: id)
        } catch {
            _ = try? await onConnection { try $0.execute("ROLLBACK") }
            throw error
        }
    }

    public func begin(_ iteration: IterationRecord) async throws -> Int64 {
        let running = iteration.withStatus(.running)
        return try await onConnection { connection in
            let existing = try connection.query("SELECT id FROM sync_iterations WHERE run_id = \(try connection.literal(iteration.runID))")
            if let value = existing.rows.first?[0], let id = Int64(value) { return id }
            try connection.execute(try Self.insertStatement(running, connection))
            return Int64(connection.lastInsertID)
        }
    }

    public func append(_ records: [OperationRecord], progress: IterationRecord, iterationID: Int64) async throws {
        let running = progress.withStatus(.running)
        try await onConnection { connection in
            try connection.execute("START TRANSACTION")
            try connection.execute(try Self.updateStatement(running, id: iterationID, connection))
        }
        do {
            try await insert(records[...], iterationID: iterationID)
            try await onConnection { try $0.execute("COMMIT") }
        } catch {
            _ = try? await onConnection { try $0.execute("ROLLBACK") }
            throw error
        }
    }

    /// Inserts operations in multi-row statements that stay under the server's packet limit.
    private func insert(_ records: ArraySlice<OperationRecord>, iterationID id: Int64) async throws {
        guard !records.isEmpty else { return }
        let limit = maxPacketBytes - 4096
        try await onConnection { connection in
            let prefix =
                "INSERT INTO sync_operations (iteration_id, seq, dry_run, operation, filepath, filepath_escaped, size_before, size_after, md5_before, md5_after, started_at, ended_at, status, error_message, direction, conflict) VALUES "
            var statement = prefix
            var rows = 0
            for record in records {
                let row =
                    "(\(id), \(record.sequence), \(record.dryRun ? 1 : 0), '\(record.operation.rawValue)', \(try connection.literal(record.filepath)), \(record.filepathEscaped ? 1 : 0), "
                    + "\(Self.integer(record.sizeBefore)), \(Self.integer(record.sizeAfter)), \(try connection.literal(record.md5Before)), "
                    + "\(try connection.literal(record.md5After)), '\(SQLTime.format(record.startedAt))', \(Self.time(record.endedAt)), "
                    + "'\(record.succeeded ? "success" : "fail")', \(try connection.literal(record.errorMessage)), "
                    + "\(try connection.literal(record.direction)), \(record.conflict ? 1 : 0))"
                if rows > 0 && statement.utf8.count + row.utf8.count + 2 > limit {
                    try connection.execute(statement)
                    statement = prefix
                    rows = 0
                }
                statement += rows == 0 ? row : ", " + row
                rows += 1
            }
            if rows > 0 { try connection.execute(statement) }
        }
    }

    private static func insertStatement(_ iteration: IterationRecord, _ connection: MariaDBConnection) throws -> String {
        """
        INSERT INTO sync_iterations (run_id, sync_pair, direction, src, dest, started_at, ended_at, status, dry_run,
            files_created, files_updated, files_deleted, files_skipped, files_failed, total_bytes_transferred, error_message,
            files_conflicted, versions_kept, versions_pruned, version_store_files, version_store_bytes, filter_fingerprint, filter_rules,
            files_planned, bytes_planned, phase, fan_out_id)
        VALUES (\(try connection.literal(iteration.runID)), \(try connection.literal(iteration.pair)), \(try connection.literal(iteration.direction)),
            \(try connection.literal(iteration.source)), \(try connection.literal(iteration.destination)),
            '\(SQLTime.format(iteration.startedAt))', \(Self.time(iteration.endedAt)), '\(iteration.status.rawValue)', \(iteration.dryRun ? 1 : 0),
            \(iteration.filesCreated), \(iteration.filesUpdated), \(iteration.filesDeleted), \(iteration.filesSkipped), \(iteration.filesFailed),
            \(iteration.bytesTransferred), \(try connection.literal(iteration.errorMessage)), \(iteration.conflicts),
            \(iteration.versionsKept), \(iteration.versionsPruned), \(iteration.versionStoreFiles), \(iteration.versionStoreBytes),
            \(try connection.literal(iteration.filterFingerprint)), \(try connection.literal(iteration.filterRules)),
            \(iteration.filesPlanned), \(iteration.bytesPlanned), \(try connection.literal(iteration.phase)),
            \(try connection.literal(iteration.fanOutID)))
        """
    }

    private static func updateStatement(_ iteration: IterationRecord, id: Int64, _ connection: MariaDBConnection) throws -> String {
        """
        UPDATE sync_iterations SET ended_at = \(Self.time(iteration.endedAt)), status = '\(iteration.status.rawValue)',
            files_created = \(iteration.filesCreated), files_updated = \(iteration.filesUpdated), files_deleted = \(iteration.filesDeleted),
            files_skipped = \(iteration.filesSkipped), files_failed = \(iteration.filesFailed), total_bytes_transferred = \(iteration.bytesTransferred),
            error_message = \(try connection.literal(iteration.errorMessage)), files_conflicted = \(iteration.conflicts),
            versions_kept = \(iteration.versionsKept), versions_pruned = \(iteration.versionsPruned),
            version_store_files = \(iteration.versionStoreFiles), version_store_bytes = \(iteration.versionStoreBytes),
            filter_fingerprint = \(try connection.literal(iteration.filterFingerprint)), filter_rules = \(try connection.literal(iteration.filterRules)),
            files_planned = \(iteration.filesPlanned), bytes_planned = \(iteration.bytesPlanned), phase = \(try connection.literal(iteration.phase))
        WHERE id = \(id)
        """
    }

    // MARK: Reading

    public func lastSuccessfulDryRun(pair: String, direction: String) async throws -> DryRunFingerprint? {
        let found: (Int64, String)? = try await onConnection { connection in
            let rows = try connection.query(
                """
                SELECT id, started_at FROM sync_iterations
                WHERE sync_pair = \(try connection.literal(pair)) AND direction = \(try connection.literal(direction)) AND dry_run = 1 AND status = 'success'
                ORDER BY started_at DESC, id DESC LIMIT 1
                """)
            guard let row = rows.rows.first, let id = row[0].flatMap({ Int64($0) }), let started = row[1] else { return nil }
            return (id, started)
        }
        guard let (id, startedText) = found, let started = SQLTime.parse(startedText) else { return nil }
        var digest = PlanDigest()
        var after: Int64 = 0
        // Paged by id, so a dry run of a million operations never sits in memory at once.
        while true {
            let cursor = after
            let page = try await onConnection { connection in
                try connection.query(
                    "SELECT id, filepath, filepath_escaped, operation, size_before FROM sync_operations WHERE iteration_id = \(id) AND id > \(cursor) ORDER BY id LIMIT \(Self.pageSize)"
                ).rows
            }
            for row in page {
                guard let filepath = row[1], let operation = row[3].flatMap(Operation.init(rawValue:)) else { continue }
                digest.add(PlanKey(storedPath: filepath, escaped: row[2] != "0", operation: operation, sizeBefore: row[4].flatMap { Int64($0) }))
            }
            guard page.count == Self.pageSize, let last = page.last?[0].flatMap({ Int64($0) }) else { break }
            after = last
        }
        return DryRunFingerprint(iterationID: id, startedAt: started, digest: digest)
    }

    public func pairStatuses() async throws -> [PairStatus] {
        let (latest, successes) = try await onConnection { connection in
            let latest = try connection.query(
                """
                SELECT * FROM (
                    SELECT i.*, ROW_NUMBER() OVER (PARTITION BY sync_pair, direction, dry_run ORDER BY started_at DESC, id DESC) AS position
                    FROM sync_iterations i
                ) AS ranked WHERE position = 1
                """)
            let successes = try connection.query(
                """
                SELECT sync_pair, direction, MAX(started_at) AS last_success FROM sync_iterations
                WHERE dry_run = 0 AND status = 'success' GROUP BY sync_pair, direction
                """)
            return (latest, successes)
        }
        var statuses: [String: PairStatus] = [:]
        for index in latest.rows.indices {
            let iteration = try Self.iteration(latest, row: index)
            let key = iteration.record.pair + "\u{0}" + iteration.record.direction
            var status = statuses[key] ?? PairStatus(pair: iteration.record.pair, direction: iteration.record.direction)
            if iteration.record.dryRun { status.lastDryRun = iteration } else { status.lastReal = iteration }
            statuses[key] = status
        }
        for row in successes.rows {
            guard let pair = row[0], let direction = row[1] else { continue }
            statuses[pair + "\u{0}" + direction]?.lastRealSuccess = row[2].flatMap(SQLTime.parse)
        }
        return statuses.values.sorted { ($0.pair, $0.direction) < ($1.pair, $1.direction) }
    }

    public func iterations(_ query: IterationQuery) async throws -> [StoredIteration] {
        let rows = try await onConnection { connection in
            var conditions: [String] = []
            if let pair = query.pair { conditions.append("sync_pair = \(try connection.literal(pair))") }
            if let direction = query.direction { conditions.append("direction = \(try connection.literal(direction))") }
            if let dryRun = query.dryRun { conditions.append("dry_run = \(dryRun ? 1 : 0)") }
            if let before = query.beforeID { conditions.append("id < \(before)") }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            return try connection.query("SELECT * FROM sync_iterations \(filter) ORDER BY id DESC LIMIT \(max(0, query.limit))")
        }
        return try rows.rows.indices.map { try Self.iteration(rows, row: $0) }
    }

    public func iteration(id: Int64) async throws -> StoredIteration? {
        let rows = try await onConnection { try $0.query("SELECT * FROM sync_iterations WHERE id = \(id)") }
        return try rows.rows.isEmpty ? nil : Self.iteration(rows, row: 0)
    }

    public func operations(_ query: OperationQuery) async throws -> [StoredOperation] {
        let rows = try await onConnection { connection in
            var sql = "SELECT * FROM sync_operations WHERE iteration_id = \(query.iterationID)"
            if let succeeded = query.succeeded { sql += " AND status = '\(succeeded ? "success" : "fail")'" }
            if let after = query.afterID { sql += " AND id > \(after)" }
            return try connection.query(sql + " ORDER BY id LIMIT \(max(0, query.limit))")
        }
        return try rows.rows.indices.map { try Self.operation(rows, row: $0) }
    }

    public func conflicts(pair: String, limit: Int) async throws -> [StoredConflict] {
        let rows = try await onConnection { connection in
            try connection.query(
                """
                SELECT o.*, c.filepath AS copy_path, c.filepath_escaped AS copy_escaped,
                    EXISTS (SELECT 1 FROM sync_operations d JOIN sync_iterations di ON di.id = d.iteration_id
                        WHERE di.sync_pair = i.sync_pair AND di.dry_run = 0 AND d.operation = 'delete' AND d.status = 'success'
                        AND d.filepath_hash = c.filepath_hash AND d.filepath = c.filepath AND d.id > c.id) AS resolved
                FROM sync_operations o
                JOIN sync_iterations i ON i.id = o.iteration_id
                LEFT JOIN sync_operations c ON c.iteration_id = o.iteration_id AND c.seq = o.seq + 1 AND c.operation = 'create'
                WHERE i.sync_pair = \(try connection.literal(pair)) AND i.dry_run = 0 AND o.conflict = 1 AND o.status = 'success'
                ORDER BY o.id DESC LIMIT \(max(0, limit))
                """)
        }
        return try rows.rows.indices.map { index in
            let value = { (name: String) in rows.value(name, row: index) }
            return StoredConflict(
                conflict: try StoredOperation(row: value), copyPath: value("copy_path"), copyPathEscaped: value("copy_escaped") != "0",
                resolved: value("resolved") == "1")
        }
    }

    public func pruneHistory(before cutoff: Timestamp, batchSize: Int) async throws -> PruneResult {
        let limit = SQLTime.format(cutoff)
        var result = PruneResult()
        while true {
            let deleted = try await onConnection { connection in
                try connection.execute(
                    "DELETE FROM sync_operations WHERE iteration_id IN (SELECT id FROM sync_iterations WHERE started_at < '\(limit)') LIMIT \(batchSize)"
                )
            }
            result.operations += Int(deleted)
            if deleted < batchSize { break }
        }
        while true {
            let deleted = try await onConnection { connection in
                try connection.execute(
                    """
                    DELETE FROM sync_iterations WHERE started_at < '\(limit)'
                    AND NOT EXISTS (SELECT 1 FROM sync_operations o WHERE o.iteration_id = sync_iterations.id) LIMIT \(batchSize)
                    """)
            }
            result.iterations += Int(deleted)
            if deleted < batchSize { break }
        }
        return result
    }

    public func close() async {
        guard !abandoned.load(ordering: .relaxed) else {
            // A call was abandoned mid-way (a stop while the server hung): its thread still
            // owns the connection, which goes when that call returns or the process exits.
            pool.shutdownGracefully { _ in }
            return
        }
        _ = try? await pool.runIfActive { [connection] in connection.close() }
        try? await pool.shutdownGracefully()
    }

    // MARK: Rows

    private static func integer(_ value: Int64?) -> String { value.map(String.init) ?? "NULL" }
    private static func time(_ value: Timestamp?) -> String { value.map { "'\(SQLTime.format($0))'" } ?? "NULL" }

    static func iteration(_ rows: MariaDBConnection.Rows, row index: Int) throws -> StoredIteration {
        try StoredIteration(row: { rows.value($0, row: index) })
    }

    static func operation(_ rows: MariaDBConnection.Rows, row index: Int) throws -> StoredOperation {
        try StoredOperation(row: { rows.value($0, row: index) })
    }
}
