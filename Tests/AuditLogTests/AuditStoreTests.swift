import AuditLog
import AuditTestSupport
import Foundation
import Logging
import SQLiteNIO
import SyncCore
import Testing

@Suite("Audit stores")
struct AuditStoreTests {
    static func scratchDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ha-sync-audit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let sqlite = AuditStoreConformance {
        try await SQLiteAuditStore.open(path: try scratchDirectory() + "/audit.db", logger: Logger(label: "test"))
    }
    static let memory = AuditStoreConformance { InMemoryAuditStore() }

    @Test func sqliteStoresAndReadsBack() async throws { try await Self.sqlite.storesAndReadsBackExactly() }
    @Test func sqliteIsIdempotent() async throws { try await Self.sqlite.storingTwiceIsIdempotent() }
    @Test func sqliteRollsBack() async throws { try await Self.sqlite.aFailedStoreLeavesNothingBehind() }
    @Test func sqliteDryRunFingerprint() async throws { try await Self.sqlite.dryRunFingerprintOnlySeesSuccessfulDryRuns() }
    @Test func sqlitePairStatuses() async throws { try await Self.sqlite.pairStatusesKeepRealAndDryRunsApart() }
    @Test func sqliteQueries() async throws { try await Self.sqlite.queriesFilterAndPage() }
    @Test func sqlitePrune() async throws { try await Self.sqlite.pruningDeletesOnlyOldRuns() }
    @Test func sqliteComparesPlansAcrossPathForms() async throws {
        try await Self.sqlite.aPlanStoredWithEscapedPathsMatchesTheSamePlanStoredExactly()
    }
    @Test func sqliteListsConflicts() async throws { try await Self.sqlite.conflictsListTheirCopiesAndWhetherTheyWereResolved() }
    @Test func sqliteRecordsRunsWhileTheyRun() async throws { try await Self.sqlite.aRunRecordedWhileItRunsIsCompletedExactlyOnce() }
    @Test func inMemoryStoreBehavesTheSame() async throws { try await Self.memory.runAll() }

    /// The column holds the name itself; only a name that cannot be text is escaped.
    @Test func sqliteStoresNamesExactlyInTheColumn() async throws {
        let path = try Self.scratchDirectory() + "/audit.db"
        let store = try await SQLiteAuditStore.open(path: path, logger: Logger(label: "test"))
        let names = [RelativePath("quo\"te\\back.txt"), RelativePath.root.appending([0x6E, 0x0A, 0xFF])]
        let records = AuditStoreConformance.operations(2, paths: names)
        var pending: [OperationRecord]? = records
        do {
            _ = try await store.store(AuditStoreConformance.iteration(run: "exact")) {
                defer { pending = nil }
                return pending
            }
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        let rows = try await Self.rawRows(path, "SELECT filepath, filepath_escaped FROM sync_operations ORDER BY seq")
        #expect(rows.first?[0] == "quo\"te\\back.txt")
        #expect(rows.first?[1] == "0")
        #expect(rows.last?[0] == "n\\x0a\\xff")
        #expect(rows.last?[1] == "1")
    }

    /// A database written by schema version 1 (every path escaped, no flag) is migrated in place.
    @Test func sqliteVersionOneDatabaseIsMigrated() async throws {
        let path = try Self.scratchDirectory() + "/audit.db"
        let fresh = try await SQLiteAuditStore.open(path: path, logger: Logger(label: "test"))
        _ = try await fresh.store(AuditStoreConformance.iteration(run: "v1")) { nil }
        await fresh.close()
        // Turn it back into version 1, with a row as version 1 wrote it.
        _ = try await Self.rawRows(path, "ALTER TABLE sync_operations DROP COLUMN filepath_escaped")
        _ = try await Self.rawRows(path, "ALTER TABLE sync_operations DROP COLUMN direction")
        _ = try await Self.rawRows(path, "ALTER TABLE sync_operations DROP COLUMN conflict")
        for column in ["files_conflicted", "files_planned", "bytes_planned", "phase"] {
            _ = try await Self.rawRows(path, "ALTER TABLE sync_iterations DROP COLUMN \(column)")
        }
        _ = try await Self.rawRows(path, "UPDATE ha_sync_schema SET version = 1")
        _ = try await Self.rawRows(
            path,
            "INSERT INTO sync_operations (iteration_id, seq, operation, filepath, started_at, status) VALUES (1, 1, 'create', 'back\\\\slash', '2026-01-01 00:00:00.000', 'success')"
        )

        let migrated = try await SQLiteAuditStore.open(path: path, logger: Logger(label: "test"))
        let operation = try #require(try await migrated.operations(OperationQuery(iterationID: 1)).first)
        #expect(operation.record.filepathEscaped)
        #expect(operation.record.displayPath == "back\\slash")
        #expect(operation.record.direction == nil && !operation.record.conflict)
        await migrated.close()
        #expect(try await Self.rawRows(path, "SELECT version FROM ha_sync_schema") == [["6"]])
        let columns = try await Self.rawRows(path, "SELECT name FROM pragma_table_info('sync_iterations')").map { $0[0] }
        #expect(["files_planned", "bytes_planned", "phase", "fan_out_id"].allSatisfy { columns.contains($0) })
    }

    /// A database of schema version 3 (its CHECK admits only create, update, delete) is rebuilt
    /// in place so version and prune operations can be stored, keeping every row.
    @Test func sqliteVersionThreeOperationsTableAdmitsVersionsAfterMigration() async throws {
        let path = try Self.scratchDirectory() + "/audit.db"
        _ = try await Self.rawRows(
            path,
            """
            CREATE TABLE sync_operations (id INTEGER PRIMARY KEY AUTOINCREMENT, iteration_id INTEGER NOT NULL, seq INTEGER NOT NULL,
            dry_run INTEGER NOT NULL DEFAULT 0, operation TEXT NOT NULL CHECK (operation IN ('create','update','delete')),
            filepath TEXT NOT NULL, filepath_escaped INTEGER NOT NULL DEFAULT 1, size_before INTEGER, size_after INTEGER, md5_before TEXT,
            md5_after TEXT, started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL CHECK (status IN ('success','fail')),
            error_message TEXT, direction TEXT, conflict INTEGER NOT NULL DEFAULT 0, UNIQUE (iteration_id, seq))
            """)
        _ = try await Self.rawRows(
            path,
            "INSERT INTO sync_operations (iteration_id, seq, operation, filepath, filepath_escaped, started_at, status) VALUES (7, 1, 'delete', 'old.txt', 0, '2026-01-01 00:00:00.000', 'success')"
        )
        let store = try await SQLiteAuditStore.open(path: path, logger: Logger(label: "test"))
        var iteration = AuditStoreConformance.iteration(run: "v4")
        iteration.filesCreated = 0
        let records = [
            OperationRecord(
                sequence: 1, operation: .version, filepath: ".ha-sync-versions/a.txt~20261202T101500Z", startedAt: Timestamp(seconds: 1_800_000_000),
                dryRun: false),
            OperationRecord(
                sequence: 2, operation: .prune, filepath: ".ha-sync-versions/a.txt~20261101T101500Z", startedAt: Timestamp(seconds: 1_800_000_000),
                dryRun: false),
        ]
        var batches = [records]
        guard case .stored(let id) = try await store.store(iteration, nextBatch: { batches.popLast() }) else {
            Issue.record("the run must be stored")
            return
        }
        #expect(try await store.operations(OperationQuery(iterationID: id)).map(\.record.operation) == [.version, .prune])
        #expect(try await store.operations(OperationQuery(iterationID: 7)).map(\.record.filepath) == ["old.txt"], "old rows are kept")
        await store.close()
        #expect(try await Self.rawRows(path, "SELECT count(*) FROM sqlite_master WHERE name = 'idx_iteration'") == [["1"]])
    }

    /// A run that is cancelled still closes its store: sqlite-nio traps when an open
    /// connection is released, which would kill the process that was being stopped.
    @Test func closingFromACancelledTaskStillCloses() async throws {
        let path = try Self.scratchDirectory() + "/audit.db"
        let store = try await SQLiteAuditStore.open(path: path, logger: Logger(label: "test"))
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                withUnsafeCurrentTask { $0?.cancel() }
                await store.close()
                return Task.isCancelled
            }
            #expect(await group.next() == true, "the close ran in a cancelled task")
        }
        // Reopening works and the store is released without a trap at the end of the test.
        let again = try await SQLiteAuditStore.open(path: path, logger: Logger(label: "test"))
        await again.close()
    }

    static func rawRows(_ path: String, _ sql: String) async throws -> [[String]] {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: Logger(label: "raw"))
        do {
            let rows = try await connection.query(sql, [])
            try await connection.close()
            return rows.map { row in row.columns.map { $0.data.string ?? $0.data.integer.map(String.init) ?? $0.data.description } }
        } catch {
            try? await connection.close()
            throw error
        }
    }

    @Test func sqliteSchemaIsCreatedOnceAndVersioned() async throws {
        let path = try Self.scratchDirectory() + "/audit.db"
        let first = try await SQLiteAuditStore.open(path: path, logger: Logger(label: "test"))
        _ = try await first.store(AuditStoreConformance.iteration(run: "keep")) { nil }
        await first.close()
        let second = try await SQLiteAuditStore.open(path: path, logger: Logger(label: "test"))
        #expect(try await second.iterations(IterationQuery(limit: 10)).map(\.record.runID) == ["keep"], "reopening keeps the rows")
        await second.close()
    }

    @Test func anUnopenableSQLitePathIsAClearError() async throws {
        do {
            _ = try await SQLiteAuditStore.open(path: "/proc/ha-sync-test.db", logger: Logger(label: "test"))
            Issue.record("must fail")
        } catch {
            #expect("\(error)".contains("cannot open the SQLite audit database /proc/ha-sync-test.db"))
        }
    }
}
