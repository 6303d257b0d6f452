import AuditLog
import AuditTestSupport
import Foundation
import Logging
import MariaDB
import MariaDBTestSupport
import SyncCore
import SyncTestSupport
import Testing

@testable import AuditDSN
@testable import AuditMySQL

func configuration(_ server: MariaDBServer, database: String, password: String = MariaDBServer.password) throws -> MariaDBConfiguration {
    guard case .mysql(let endpoint) = try DatabaseDSN(parsing: server.dsn(database: database, password: password)) else {
        throw ServerError("not a MySQL DSN")
    }
    return try AuditStores.configuration(endpoint)
}

func openStore(_ server: MariaDBServer, database: String? = nil) async throws -> MySQLAuditStore {
    let name: String
    if let database { name = database } else { name = try await server.createDatabase() }
    return try await MySQLAuditStore.open(configuration: configuration(server, database: name), logger: Logger(label: "test"))
}

@Suite("MySQL audit store against a real MariaDB server")
struct MySQLAuditStoreTests {
    static let conformance = AuditStoreConformance { try await openStore(try await SharedMariaDB.get()) }

    @Test func storesAndReadsBack() async throws { try await Self.conformance.storesAndReadsBackExactly() }
    @Test func isIdempotent() async throws { try await Self.conformance.storingTwiceIsIdempotent() }
    @Test func rollsBack() async throws { try await Self.conformance.aFailedStoreLeavesNothingBehind() }
    @Test func dryRunFingerprint() async throws { try await Self.conformance.dryRunFingerprintOnlySeesSuccessfulDryRuns() }
    @Test func pairStatuses() async throws { try await Self.conformance.pairStatusesKeepRealAndDryRunsApart() }
    @Test func queries() async throws { try await Self.conformance.queriesFilterAndPage() }
    @Test func prune() async throws { try await Self.conformance.pruningDeletesOnlyOldRuns() }
    @Test func plansAcrossPathForms() async throws { try await Self.conformance.aPlanStoredWithEscapedPathsMatchesTheSamePlanStoredExactly() }
    @Test func conflicts() async throws { try await Self.conformance.conflictsListTheirCopiesAndWhetherTheyWereResolved() }
    @Test func liveRuns() async throws { try await Self.conformance.aRunRecordedWhileItRunsIsCompletedExactlyOnce() }

    /// Column name, type, nullability and default, as the specification's DDL makes them.
    static let specification: [String: [(String, String, String, String?)]] = [
        "sync_iterations": [
            ("id", "bigint(20)", "NO", nil), ("sync_pair", "varchar(255)", "NO", nil), ("direction", "varchar(64)", "NO", nil),
            ("src", "varchar(512)", "NO", nil), ("dest", "varchar(512)", "NO", nil), ("started_at", "datetime(3)", "NO", nil),
            ("ended_at", "datetime(3)", "YES", "NULL"), ("status", "enum('running','success','partial_failure','failed')", "NO", "'running'"),
            ("dry_run", "tinyint(1)", "NO", "0"), ("files_created", "int(11)", "YES", "0"), ("files_updated", "int(11)", "YES", "0"),
            ("files_deleted", "int(11)", "YES", "0"), ("files_skipped", "int(11)", "YES", "0"), ("files_failed", "int(11)", "YES", "0"),
            ("total_bytes_transferred", "bigint(20)", "YES", "0"), ("error_message", "text", "YES", "NULL"),
        ],
        "sync_operations": [
            ("id", "bigint(20)", "NO", nil), ("iteration_id", "bigint(20)", "NO", nil), ("dry_run", "tinyint(1)", "NO", "0"),
            ("operation", "enum('create','update','delete','version','prune')", "NO", nil), ("filepath", "varchar(4096)", "NO", nil),
            ("size_before", "bigint(20)", "YES", "NULL"), ("size_after", "bigint(20)", "YES", "NULL"), ("md5_before", "varchar(32)", "YES", "NULL"),
            ("md5_after", "varchar(32)", "YES", "NULL"), ("started_at", "datetime(3)", "NO", nil), ("ended_at", "datetime(3)", "YES", "NULL"),
            ("status", "enum('success','fail')", "NO", nil), ("error_message", "varchar(4096)", "YES", "NULL"),
        ],
    ]

    @Test func theSchemaHasTheSpecificationsColumnsAndTypes() async throws {
        let server = try await SharedMariaDB.get()
        let database = try await server.createDatabase()
        let store = try await openStore(server, database: database)
        await store.close()
        for (table, expected) in Self.specification {
            let rows = try await server.admin(
                """
                SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, IFNULL(COLUMN_DEFAULT, '-') FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = '\(database)' AND TABLE_NAME = '\(table)' ORDER BY ORDINAL_POSITION
                """
            ).split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
            let byName = Dictionary(uniqueKeysWithValues: rows.map { ($0[0], $0) })
            for (name, type, nullable, defaultValue) in expected {
                let row = try #require(byName[name], "\(table).\(name) exists")
                #expect(row[1] == type, "\(table).\(name) type")
                #expect(row[2] == nullable, "\(table).\(name) nullability")
                if let defaultValue { #expect(row[3] == defaultValue, "\(table).\(name) default") }
            }
            // The specification's columns come first, in its order.
            #expect(Array(rows.prefix(expected.count).map { $0[0] }) == expected.map(\.0))
        }
        let collation = try await server.admin(
            "SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '\(database)' AND TABLE_NAME = 'sync_operations' AND COLUMN_NAME = 'filepath'"
        )
        #expect(collation == "utf8mb4_bin")
        let indexes = try await server.admin(
            "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '\(database)' AND TABLE_NAME = 'sync_operations' ORDER BY INDEX_NAME"
        )
        // InnoDB serves the foreign key with idx_iteration; no 4096-character column is indexed.
        #expect(Set(indexes.split(separator: "\n").map(String.init)) == ["idx_filepath_hash", "idx_iteration", "PRIMARY", "uq_iteration_seq"])
    }

    @Test func anExistingSpecificationSchemaIsMigratedWithoutLosingRows() async throws {
        let server = try await SharedMariaDB.get()
        let database = try await server.createDatabase()
        // The tables exactly as the specification creates them, with a row from an older tool.
        func columns(_ table: String) -> String {
            Self.specification[table]!.map { name, type, nullable, defaultValue in
                var column = "\(name) \(type)"
                if name == "id" { column += " AUTO_INCREMENT PRIMARY KEY" }
                if nullable == "NO" { column += " NOT NULL" }
                if let defaultValue, defaultValue != "NULL" { column += " DEFAULT \(defaultValue)" }
                return column
            }.joined(separator: ", ")
        }
        try await server.admin(
            """
            CREATE TABLE sync_iterations (\(columns("sync_iterations")), INDEX idx_pair (sync_pair), INDEX idx_started (started_at), INDEX idx_dry_run (dry_run));
            CREATE TABLE sync_operations (\(columns("sync_operations")), INDEX idx_iteration (iteration_id),
                CONSTRAINT fk_iteration FOREIGN KEY (iteration_id) REFERENCES sync_iterations(id));
            INSERT INTO sync_iterations (sync_pair, direction, src, dest, started_at, status) VALUES ('media', 'dell-to-hp', '/a', '/b', '2026-01-01 00:00:00.000', 'success');
            INSERT INTO sync_operations (iteration_id, operation, filepath, started_at, status) VALUES (1, 'create', 'old/file', '2026-01-01 00:00:00.000', 'success');
            """, database: database)
        let store = try await openStore(server, database: database)
        let old = try await store.iterations(IterationQuery(limit: 10))
        #expect(old.map(\.record.pair) == ["media"])
        #expect(try await store.operations(OperationQuery(iterationID: old[0].id)).map(\.record.filepath) == ["old/file"])
        #expect(try await store.operations(OperationQuery(iterationID: old[0].id)).map(\.record.filepathEscaped) == [true], "older rows are escaped")
        _ = try await store.store(AuditStoreConformance.iteration(run: "after-migration"), nextBatch: { nil })
        #expect(try await store.iterations(IterationQuery(limit: 10)).count == 2)
        await store.close()
        // A second open finds nothing to migrate.
        let again = try await openStore(server, database: database)
        await again.close()
    }

    @Test func connectionProblemsAreOneLineErrorsWithoutThePassword() async throws {
        let server = try await SharedMariaDB.get()
        let database = try await server.createDatabase()
        let secret = "Wr0ng-S3cret!"
        let started = Date()
        var wrong = try configuration(server, database: database)
        wrong.password = secret
        let cases: [(MariaDBConfiguration, String)] = [
            (wrong, "Access denied for user"),
            (
                {
                    var c = wrong
                    c.password = MariaDBServer.password
                    c.database = "no_such_db"
                    return c
                }(), "no_such_db"
            ),
            (
                {
                    var c = wrong
                    c.port = try! LoopbackPort.free()
                    return c
                }(), "Can't connect"
            ),
            (
                {
                    var c = wrong
                    c.host = "no-such-host.invalid"
                    return c
                }(), "no-such-host.invalid"
            ),
        ]
        for (configuration, expected) in cases {
            do {
                _ = try await MySQLAuditStore.open(configuration: configuration, logger: Logger(label: "test"))
                Issue.record("\(expected): must fail")
            } catch {
                let text = "\(error)"
                #expect(text.contains(expected), "\(text)")
                #expect(!text.contains(secret))
                #expect(!text.contains(MariaDBServer.password))
                #expect(!text.contains("\n"))
            }
        }
        #expect(Date().timeIntervalSince(started) < 30, "every failure is quick")
    }

    @Test(.timeLimit(.minutes(5)))
    func twentyThousandLongPathsFlushUnderASmallMaxAllowedPacket() async throws {
        let server = try await MariaDBServer.start(extraArguments: ["--max-allowed-packet=1M"])
        let store = try await openStore(server)
        #expect(store.maxPacketBytes == 1 << 20)
        let long = String(repeating: "d", count: 3990)
        let records = (0..<20_000).map { index in
            OperationRecord(
                sequence: index + 1, operation: .create, filepath: "\(long)/\(index)", sizeAfter: Int64(index),
                startedAt: Timestamp(seconds: 1_800_000_000), endedAt: Timestamp(seconds: 1_800_000_001), dryRun: false)
        }
        var remaining = records[...]
        let outcome = try await store.store(AuditStoreConformance.iteration(run: "big")) {
            guard !remaining.isEmpty else { return nil }
            let batch = Array(remaining.prefix(1000))
            remaining = remaining.dropFirst(1000)
            return batch
        }
        guard case .stored(let id) = outcome else {
            Issue.record("must store")
            return
        }
        var read = 0
        var after: Int64?
        while true {
            let page = try await store.operations(OperationQuery(iterationID: id, limit: 5000, afterID: after))
            for (offset, operation) in page.enumerated() where operation.record != records[read + offset] {
                Issue.record("row \(read + offset) differs")
            }
            read += page.count
            guard let last = page.last else { break }
            after = last.id
        }
        #expect(read == 20_000)
        await store.close()
    }

    @Test func dsnParametersBecomeConnectionSettings() throws {
        guard
            case .mysql(let endpoint) = try DatabaseDSN(
                parsing: "u:p@tcp(db:3307)/general_db?timeout=3s&readTimeout=500ms&writeTimeout=2m&tls=skip-verify")
        else {
            Issue.record("mysql")
            return
        }
        let settings = try AuditStores.configuration(endpoint)
        #expect(settings.connectTimeout == 3)
        #expect(settings.readTimeout == 1)
        #expect(settings.writeTimeout == 120)
        #expect(settings.tls == .required)
        #expect(AuditStores.parseDuration("1d") == 86_400)
        #expect(AuditStores.parseDuration("90") == 90)
        #expect(AuditStores.parseDuration("soon") == nil)
        #expect(settings.port == 3307)
        guard case .mysql(let bad) = try DatabaseDSN(parsing: "u:p@tcp(db)/d?tls=maybe") else { return }
        #expect(throws: AuditError.self) { try AuditStores.configuration(bad) }
    }
}
