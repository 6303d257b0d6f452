import AuditLog
import AuditMySQL
import Foundation
import Logging
import MariaDB
import MariaDBTestSupport
import SyncCore
import SyncTestSupport
import Testing

/// The binary with a MySQL DSN, against a private MariaDB server per test.
@Suite("ha-sync with a MySQL audit store", .serialized)
struct MySQLEndToEndTests {
    let tree: TemporaryTree
    let source: String
    let destination: String
    let logs: String

    init() throws {
        tree = try TemporaryTree("mysql-e2e")
        source = try tree.directory("src")
        destination = try tree.directory("dest")
        logs = try tree.directory("logs")
    }

    func arguments(_ dsn: String) -> [String] {
        [
            "--src", source, "--dest", destination, "--pair", "infra", "--direction", "hp-to-dell", "--log-dir", logs, "--output", "json", "--db-dsn",
            dsn,
        ]
    }

    func opslogs() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).filter { $0.hasPrefix("opslog-") }
    }

    func rows(_ server: MariaDBServer, _ database: String, _ sql: String) async throws -> [[String]] {
        try await server.admin(sql, database: database).split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
    }

    @Test func aRunWritesRowsMatchingItsSummary() async throws {
        let server = try await MariaDBServer.start()
        let database = try await server.createDatabase()
        for index in 0..<30 { try TemporaryTree.write(source, "f\(index)", String(repeating: "y", count: index)) }
        let outcome = try await HASyncProcess.run(arguments(server.dsn(database: database)))
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(opslogs().isEmpty)
        let iteration = try await rows(server, database, "SELECT id, status, files_created, total_bytes_transferred, dry_run FROM sync_iterations")
        #expect(iteration.count == 1)
        #expect(iteration.first?[1] == "success")
        #expect(Int(iteration.first?[2] ?? "") == outcome.summary?["created"] as? Int)
        #expect(Int(iteration.first?[3] ?? "") == outcome.summary?["bytes_transferred"] as? Int)
        let operations = try await rows(
            server, database, "SELECT COUNT(*), COUNT(DISTINCT seq) FROM sync_operations WHERE status = 'success' AND operation = 'create'")
        #expect(operations.first == ["30", "30"])
    }

    @Test func aStoppedServerNeverBlocksTheSyncAndItsOpslogIsFlushedOnceLater() async throws {
        let server = try await MariaDBServer.start()
        let database = try await server.createDatabase()
        let dsn = server.dsn(database: database)
        await server.stop()
        try TemporaryTree.write(source, "a", "a")
        let down = try await HASyncProcess.run(arguments(dsn))
        #expect(down.status == 0, "\(down.stderr)")
        #expect(FileManager.default.fileExists(atPath: destination + "/a"))
        #expect(down.stderr.contains("audit store unavailable"))
        #expect(opslogs().count == 1)

        try await server.launch()
        try TemporaryTree.write(source, "b", "b")
        let back = try await HASyncProcess.run(arguments(dsn))
        #expect(back.status == 0)
        #expect(opslogs().isEmpty)
        _ = try await HASyncProcess.run(arguments(dsn))
        #expect(try await rows(server, database, "SELECT COUNT(*), COUNT(DISTINCT run_id) FROM sync_iterations").first == ["3", "3"])
        #expect(try await rows(server, database, "SELECT filepath FROM sync_operations ORDER BY filepath").map { $0[0] } == ["a", "b"])
    }

    @Test(.timeLimit(.minutes(3)))
    func aFrozenServerMidFlushCannotHangTheRun() async throws {
        let server = try await MariaDBServer.start()
        let database = try await server.createDatabase()
        let dsn = server.dsn(database: database, parameters: "timeout=3s&readTimeout=3s&writeTimeout=3s")
        // A large opslog left by an earlier run, so the flush takes a while.
        let iteration = IterationRecord(
            runID: UUID().uuidString, pair: "infra", direction: "hp-to-dell", source: source, destination: destination,
            startedAt: Timestamp(seconds: 1_800_000_000), dryRun: false)
        let writer = try OpslogWriter.create(in: logs, for: iteration)
        for index in 0..<150_000 {
            writer.append(
                OperationResult(
                    path: RelativePath("old/\(String(repeating: "p", count: 200))/\(index)"), action: .create, kind: .file,
                    startedAt: iteration.startedAt, endedAt: iteration.startedAt))
        }
        var finished = iteration
        finished.finish(status: .success, summary: SyncSummary(), endedAt: Timestamp(seconds: 1_800_000_100), errorMessage: nil)
        try writer.finish(finished)
        try TemporaryTree.write(source, "new", "n")

        let started = Date()
        let run = try HASyncProcess(arguments(dsn))
        // Freeze the server as soon as the run is connected and writing.
        #expect(
            try await waitUntilAsync(timeout: 60) {
                (try? await server.admin(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '\(MariaDBServer.user)' AND INFO LIKE 'INSERT%'"))
                    == "1"
            })
        server.pause()
        let outcome = try await run.wait(timeout: 120)
        let elapsed = outcome.exitedAt.timeIntervalSince(started)
        server.resume()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(elapsed < 60, "the read timeout bounds the hang (took \(elapsed) s)")
        #expect(FileManager.default.fileExists(atPath: destination + "/new"), "the sync itself went ahead")
        #expect(opslogs().count == 2, "the old opslog and this run's are both kept")

        // Thawed, the server rolls back the abandoned insert of 150,000 rows before its locks
        // are free; on a loaded machine that outlasts the next run's 5 s read timeout.
        #expect(
            try await waitUntilAsync(timeout: 120) {
                (try? await server.admin("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '\(MariaDBServer.user)'")) == "0"
            })
        let next = try await HASyncProcess.run(arguments(dsn), timeout: 180)
        #expect(next.status == 0)
        #expect(opslogs().isEmpty, "\(next.stderr)")
        #expect(try await rows(server, database, "SELECT COUNT(*) FROM sync_iterations").first == ["3"])
        #expect(try await rows(server, database, "SELECT COUNT(*) FROM sync_operations").first == ["150001"])
    }

    @Test func aMissingClientLibraryNamesThePackageToInstall() async throws {
        try TemporaryTree.write(source, "a", "a")
        let outcome = try await HASyncProcess.run(
            arguments("hasync:secret@tcp(127.0.0.1:1)/general_db"), environment: [MariaDBLibrary.pathVariable: "/nonexistent/libmariadb.so.3"])
        #expect(outcome.status == 0, "the sync itself does not need the library")
        #expect(outcome.stderr.contains("install the libmariadb3 package"))
        #expect(!outcome.stderr.contains("secret"))
        #expect(FileManager.default.fileExists(atPath: destination + "/a"))
    }

    @Test func aWrongPasswordFailsFastAndIsNeverPrinted() async throws {
        let server = try await SharedMariaDB.get()
        let database = try await server.createDatabase()
        let secret = "N0t-Th3-R1ght-0ne"
        try TemporaryTree.write(source, "a", "a")
        let started = Date()
        let outcome = try await HASyncProcess.run(
            arguments(server.dsn(database: database, password: secret)) + ["--verbose", "--log-format", "json"])
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(outcome.status == 0, "the sync does not depend on the audit store")
        #expect(outcome.stderr.contains("Access denied for user"))
        #expect(!outcome.stderr.contains(secret) && !outcome.stdout.contains(secret))
        #expect(opslogs().count == 1)
    }
}
