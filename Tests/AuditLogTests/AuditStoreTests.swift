import AuditLog
import AuditTestSupport
import Foundation
import Logging
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
    @Test func inMemoryStoreBehavesTheSame() async throws { try await Self.memory.runAll() }

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
