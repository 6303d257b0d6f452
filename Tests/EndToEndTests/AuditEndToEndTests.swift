import AuditLog
import Foundation
import Logging
import SyncCore
import SyncTestSupport
import Testing

/// The audit trail through the built binary: opslogs, flushes, outages, crashes, dry runs.
@Suite("ha-sync audit trail", .serialized)
struct AuditEndToEndTests {
    let tree: TemporaryTree
    let source: String
    let destination: String
    let logs: String
    var database: String { logs + "/audit.db" }

    init() throws {
        tree = try TemporaryTree("audit")
        source = try tree.directory("src")
        destination = try tree.directory("dest")
        logs = try tree.directory("logs")
    }

    func arguments(_ extra: [String] = [], dsn: String? = nil) -> [String] {
        [
            "--src", source, "--dest", destination, "--pair", "photos", "--direction", "dell-to-hp", "--log-dir", logs, "--output", "json",
            "--db-dsn", dsn ?? "sqlite://\(database)",
        ] + extra
    }

    func opslogs() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).filter { $0.hasPrefix("opslog-") }.sorted()
    }

    func withStore<T>(_ body: (SQLiteAuditStore) async throws -> T) async throws -> T {
        let store = try await SQLiteAuditStore.open(path: database, logger: Logger(label: "test"))
        do {
            let value = try await body(store)
            await store.close()
            return value
        } catch {
            await store.close()
            throw error
        }
    }

    func allOperations(_ store: SQLiteAuditStore, _ id: Int64) async throws -> [StoredOperation] {
        try await store.operations(OperationQuery(iterationID: id, limit: 100_000))
    }

    @Test func aRunIsRecordedOnceWithCountersMatchingItsOperations() async throws {
        for index in 0..<12 { try TemporaryTree.write(source, "dir/f\(index)", String(repeating: "x", count: index)) }
        try TemporaryTree.write(destination, "stale", "s")
        chmod(source + "/dir/f3", 0)
        let prefix = geteuid() == 0 ? ["/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search"] : []
        let outcome = try await HASyncProcess.run(arguments(["--delete-missing", "--max-delete", "100"]), prefix: prefix)
        #expect(outcome.status == 2, "\(outcome.stderr)")
        #expect(opslogs().isEmpty, "the opslog is deleted after a good flush")

        try await withStore { store in
            let iterations = try await store.iterations(IterationQuery(limit: 10))
            #expect(iterations.count == 1)
            let run = try #require(iterations.first)
            let operations = try await allOperations(store, run.id)
            let summary = try #require(outcome.summary)
            #expect(run.record.status == .partialFailure)
            #expect(run.record.filesCreated == operations.filter { $0.record.operation == .create && $0.record.succeeded }.count)
            #expect(run.record.filesDeleted == operations.filter { $0.record.operation == .delete && $0.record.succeeded }.count)
            #expect(run.record.filesFailed == operations.filter { !$0.record.succeeded }.count)
            #expect(run.record.filesCreated == summary["created"] as? Int)
            #expect(run.record.filesDeleted == summary["deleted"] as? Int)
            #expect(run.record.filesFailed == summary["failed"] as? Int)
            #expect(run.record.filesSkipped == summary["skipped"] as? Int)
            #expect(run.record.bytesTransferred == Int64(summary["bytes_transferred"] as? Int ?? -1))
            #expect(run.record.filesCreated == 12)  // dir + 11 readable files
            #expect(run.record.filesDeleted == 1)
            #expect(operations.map(\.record.sequence) == Array(1...operations.count))
            let failure = try #require(operations.first { !$0.record.succeeded })
            #expect(failure.record.filepath == "dir/f3")
            #expect(failure.record.errorMessage?.contains("Permission denied") == true)
            #expect(run.record.errorMessage == "1 paths failed; see the failed operations and the run's log")
        }
    }

    @Test func anUnreachableStoreNeverBlocksTheSyncAndTheOpslogIsFlushedOnceLater() async throws {
        try TemporaryTree.write(source, "a.txt", "a")
        let down = try await HASyncProcess.run(arguments(dsn: "sqlite:///proc/ha-sync-unreachable.db"))
        #expect(down.status == 0, "\(down.stderr)")
        #expect(FileManager.default.fileExists(atPath: destination + "/a.txt"))
        #expect(down.stderr.contains("audit store unavailable"))
        #expect(down.stderr.contains("audit flush pending"))
        #expect(opslogs().count == 1)

        try TemporaryTree.write(source, "b.txt", "b")
        let back = try await HASyncProcess.run(arguments())
        #expect(back.status == 0)
        #expect(opslogs().isEmpty)
        let again = try await HASyncProcess.run(arguments())
        #expect(again.status == 0)
        try await withStore { store in
            let runs = try await store.iterations(IterationQuery(limit: 10))
            #expect(runs.count == 3, "the pending run, the run that flushed it, and the quiet run")
            #expect(Set(runs.map(\.record.runID)).count == 3)
            let created = try await runs.asyncMap { try await allOperations(store, $0.id) }.flatMap { $0 }.map(\.record.filepath).sorted()
            #expect(created == ["a.txt", "b.txt"])
        }
    }

    @Test func aCrashBetweenCommitAndDeleteLeavesNoDuplicates() async throws {
        try TemporaryTree.write(source, "a.txt", "a")
        let crashed = try await HASyncProcess.run(arguments(), environment: [OpslogFlusher.crashAfterCommitVariable: "1"])
        #expect(crashed.terminatedBySignal)
        #expect(opslogs().count == 1, "killed after the commit, before the opslog was deleted")
        let next = try await HASyncProcess.run(arguments())
        #expect(next.status == 0)
        #expect(next.stderr.contains("already in the audit store"))
        #expect(opslogs().isEmpty)
        try await withStore { store in
            let runs = try await store.iterations(IterationQuery(limit: 10))
            #expect(runs.count == 2)
            let operations = try await runs.asyncMap { try await allOperations(store, $0.id) }.flatMap { $0 }
            #expect(operations.map(\.record.filepath) == ["a.txt"])
        }
    }

    @Test func aKilledRunBecomesAFailedIteration() async throws {
        try writeSparseFile(source + "/big.bin", size: 2 << 30)
        try TemporaryTree.write(source, "a-small.txt", "first")
        let run = try HASyncProcess(arguments(["--verify", "--workers", "1"]))
        // Small files are copied beside the large one: kill once the small one is recorded in
        // the opslog and the large one is being written.
        let recorded = {
            self.opslogs().contains { name in
                ((try? String(contentsOfFile: self.logs + "/" + name, encoding: .utf8)) ?? "").contains("\"a-small.txt\"")
            }
        }
        #expect(try await waitUntil { recorded() && !temporaryFiles(in: destination).isEmpty })
        // The store shows the run while it runs, with what it did so far.
        let live = try await waitUntilAsync {
            try await withStore { store in
                guard let row = try await store.iterations(IterationQuery(limit: 1)).first, row.record.status == .running else { return false }
                return try await allOperations(store, row.id).map(\.record.filepath) == ["a-small.txt"] && row.record.filesCreated == 1
                    && row.record.filesPlanned == 2 && row.record.bytesPlanned == (2 << 30) + 5 && row.record.phase == "copying"
            }
        }
        #expect(live, "a running row with the operations so far, the plan and the phase")
        run.signal(SIGKILL)
        _ = try await run.wait()
        #expect(opslogs().count == 1)
        let statuses = try await withStore { store in try await store.iterations(IterationQuery(limit: 10)).map(\.record.status) }
        #expect(statuses == [.running], "a killed run's row stays running")
        let next = try await HASyncProcess.run(arguments())
        #expect(next.status == 0)
        try await withStore { store in
            let runs = try await store.iterations(IterationQuery(limit: 10))
            #expect(runs.count == 2)
            let killed = try #require(runs.first { $0.record.status == .failed })
            #expect(killed.record.errorMessage?.contains("interrupted") == true)
            #expect(try await allOperations(store, killed.id).map(\.record.filepath) == ["a-small.txt"], "stored once, live and flushed")
        }
    }

    @Test func opslogsPastRetentionAreDeleted() async throws {
        try TemporaryTree.write(source, "a.txt", "a")
        let old = logs + "/opslog-photos-dell-to-hp-20250101T000000.000Z.jsonl"
        try Data("{\"type\":\"header\",\"run_id\":\"ancient\"}\n".utf8).write(to: URL(fileURLWithPath: old))
        let ancient = Date().addingTimeInterval(-11 * 86_400)
        try FileManager.default.setAttributes([.modificationDate: ancient], ofItemAtPath: old)
        // With the store down nothing is flushed, so only retention can remove it.
        let outcome = try await HASyncProcess.run(arguments(dsn: "sqlite:///proc/ha-sync-unreachable.db"))
        #expect(outcome.status == 0)
        #expect(!FileManager.default.fileExists(atPath: old))
        #expect(outcome.stderr.contains("deleted an opslog older than 10 days"))
        #expect(opslogs().count == 1, "this run's own opslog stays for a later flush")
    }

    @Test func identicalDryRunsAreRecordedOnce() async throws {
        try TemporaryTree.write(source, "a.txt", "a")
        try TemporaryTree.write(source, "b.txt", "bb")
        let first = try await HASyncProcess.run(arguments(["--dry-run"]))
        #expect(first.status == 0)
        let second = try await HASyncProcess.run(arguments(["--dry-run"]))
        #expect(second.status == 0)
        let current = second.jsonLines.first { $0["type"] as? String == "dry_run_current" }
        #expect(current?["as_of"] as? String != nil)
        let text = try await HASyncProcess.run(arguments(["--dry-run", "--output", "text"]))
        #expect(text.stdout.contains("Dry-run already current as of "))
        #expect(text.stdout.contains(". Nothing has changed."))
        #expect(opslogs().isEmpty)
        let recorded = try await withStore { store in try await store.iterations(IterationQuery(limit: 10)) }
        #expect(recorded.count == 1)

        try TemporaryTree.write(source, "c.txt", "ccc")
        let changed = try await HASyncProcess.run(arguments(["--dry-run"]))
        #expect(!changed.jsonLines.contains { $0["type"] as? String == "dry_run_current" })
        try await withStore { store in
            let runs = try await store.iterations(IterationQuery(dryRun: true, limit: 10))
            #expect(runs.count == 2)
            #expect(try await allOperations(store, runs[0].id).count == 3)
            #expect(try await allOperations(store, runs[0].id).allSatisfy { $0.record.dryRun })
        }
    }

    @Test func realRunsIgnoreDryRunRows() async throws {
        try TemporaryTree.write(source, "a.txt", "a")
        _ = try await HASyncProcess.run(arguments(["--dry-run"]))
        let real = try await HASyncProcess.run(arguments())
        #expect(real.summary?["created"] as? Int == 1, "a recorded plan never stands in for the real copy")
        let realAgain = try await HASyncProcess.run(arguments())
        #expect(realAgain.summary?["created"] as? Int == 0)
        // A dry run after the real one compares with the last dry run, which planned a copy: not current.
        let dry = try await HASyncProcess.run(arguments(["--dry-run"]))
        #expect(!dry.jsonLines.contains { $0["type"] as? String == "dry_run_current" })
        try await withStore { store in
            #expect(try await store.iterations(IterationQuery(dryRun: false, limit: 10)).count == 2)
            #expect(try await store.iterations(IterationQuery(dryRun: true, limit: 10)).count == 2)
            let statuses = try await store.pairStatuses()
            #expect(statuses.first?.lastReal?.record.dryRun == false)
            #expect(statuses.first?.lastDryRun?.record.dryRun == true)
        }
    }

    @Test func oddFileNamesRoundTripThroughTheStore() async throws {
        let names: [[UInt8]] = [
            Array("quote' \"double\"".utf8),
            Array("'); DROP TABLE sync_operations;--".utf8),
            Array("emoji 🎉".utf8),
            [0x69, 0x6E, 0x76, 0xE9, 0xFF, 0x0A],
            Array("back\\slash".utf8),
        ]
        for name in names { try TemporaryTree.write(source, RelativePath.root.appending(name), Array("x".utf8)) }
        let outcome = try await HASyncProcess.run(arguments())
        #expect(outcome.status == 0)
        try await withStore { store in
            let run = try #require(try await store.iterations(IterationQuery(limit: 1)).first)
            let records = try await allOperations(store, run.id).map(\.record)
            let stored = Set(
                records.compactMap { RelativePath.bytes(stored: $0.filepath, escaped: $0.filepathEscaped).map(RelativePath.init(unchecked:)) })
            #expect(stored == Set(names.map { RelativePath.root.appending($0) }))
            // Names that are text are stored as they are; only the one with invalid bytes and a newline is escaped.
            #expect(records.contains { $0.filepath == "back\\slash" && !$0.filepathEscaped })
            #expect(records.contains { $0.filepath == "quote' \"double\"" && !$0.filepathEscaped })
            #expect(records.filter(\.filepathEscaped).map(\.filepath) == ["inv\\xe9\\xff\\x0a"])
        }
    }

    @Test func pruneHistoryDeletesOldRows() async throws {
        try TemporaryTree.write(source, "a.txt", "a")
        _ = try await HASyncProcess.run(arguments())
        let keep = try await HASyncProcess.run(["prune-history", "--older-than", "1d", "--db-dsn", "sqlite://\(database)"])
        #expect(keep.status == 0, "\(keep.stderr)")
        #expect(keep.stdout.contains("deleted 0 runs and 0 operations"))
        try await Task.sleep(for: .milliseconds(1100))
        let prune = try await HASyncProcess.run(["prune-history", "--older-than", "1s", "--db-dsn", "sqlite://\(database)"])
        #expect(prune.stdout.contains("deleted 1 runs and 1 operations"))
        let bad = try await HASyncProcess.run(["prune-history", "--older-than", "soon"])
        #expect(bad.status == 64)
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
