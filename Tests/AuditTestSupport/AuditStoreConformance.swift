public import AuditLog
public import SyncCore
import Testing

/// Checks every `AuditStore` must pass, whatever keeps the rows. Each check gets a fresh,
/// empty store from `makeStore`.
public struct AuditStoreConformance: Sendable {
    public let makeStore: @Sendable () async throws -> any AuditStore

    public init(makeStore: @escaping @Sendable () async throws -> any AuditStore) {
        self.makeStore = makeStore
    }

    /// File names that must survive the store byte for byte: all but the one with invalid
    /// bytes and a newline are stored as they are.
    public static let awkwardPaths: [RelativePath] = [
        RelativePath("quote'd \"double\""),
        RelativePath("'); DROP TABLE sync_operations;--"),
        RelativePath("emoji 🎉/ünïcödé"),
        RelativePath("back\\slash\\\\"),
        RelativePath.root.appending([0x62, 0x61, 0x64, 0xFF, 0xFE, 0x0A]),
        RelativePath(String(repeating: "long/", count: 800) + "end"),
    ]

    public static func iteration(
        run: String, pair: String = "media", direction: String = "dell-to-hp", dryRun: Bool = false,
        status: IterationRecord.Status = .success, startedAt seconds: Int64 = 1_800_000_000
    ) -> IterationRecord {
        var record = IterationRecord(
            runID: run, pair: pair, direction: direction, source: "/mnt/dell/\(pair)", destination: "/mnt/hp/\(pair)",
            startedAt: Timestamp(seconds: seconds, nanoseconds: 123_000_000), dryRun: dryRun)
        var summary = SyncSummary()
        summary.created = 2
        summary.updated = 1
        summary.skipped = 7
        summary.conflicts = 1
        summary.versionsKept = 3
        summary.versionsPruned = 2
        summary.versionStoreFiles = 40
        summary.versionStoreBytes = 1 << 33
        summary.bytesTransferred = 4096
        record.finish(status: status, summary: summary, endedAt: Timestamp(seconds: seconds + 5, nanoseconds: 456_000_000), errorMessage: nil)
        record.filterFingerprint = "0123456789abcdef"
        record.filterRules = "- *.tmp  # --exclude\n+ keep.tmp  # .ha-sync-ignore:2"
        return record
    }

    public static func operations(_ count: Int, dryRun: Bool = false, paths: [RelativePath]? = nil, escapeAll: Bool = false) -> [OperationRecord] {
        (0..<count).map { index in
            let path = paths.map { $0[index % $0.count] } ?? RelativePath("dir/file-\(index)")
            // escapeAll writes rows as schema version 1 did: every path escaped.
            let stored = escapeAll ? (text: path.escaped, escaped: true) : path.storedForm
            return OperationRecord(
                sequence: index + 1,
                operation: index % 11 == 5 ? .version : index % 13 == 6 ? .prune : index % 3 == 0 ? .create : index % 3 == 1 ? .update : .delete,
                filepath: stored.text, filepathEscaped: stored.escaped,
                sizeBefore: index % 3 == 0 ? nil : Int64(index), sizeAfter: index % 3 == 2 ? nil : Int64(index * 2),
                md5Before: index % 3 == 1 ? "0123456789abcdef0123456789abcdef" : nil, md5After: nil,
                startedAt: Timestamp(seconds: 1_800_000_001, nanoseconds: 5_000_000), endedAt: Timestamp(seconds: 1_800_000_002),
                succeeded: index % 5 != 4, errorMessage: index % 5 == 4 ? "open 'x': Permission denied" : nil, dryRun: dryRun,
                direction: index % 4 == 0 ? nil : index % 2 == 0 ? "a-to-b" : "b-to-a", conflict: index % 7 == 3)
        }
    }

    static func store(_ store: any AuditStore, _ iteration: IterationRecord, _ records: [OperationRecord], batch: Int = 700) async throws
        -> StoreOutcome
    {
        var remaining = records[...]
        return try await store.store(iteration) {
            guard !remaining.isEmpty else { return nil }
            let next = Array(remaining.prefix(batch))
            remaining = remaining.dropFirst(batch)
            return next
        }
    }

    /// Runs every check.
    public func runAll() async throws {
        try await storesAndReadsBackExactly()
        try await storingTwiceIsIdempotent()
        try await aFailedStoreLeavesNothingBehind()
        try await dryRunFingerprintOnlySeesSuccessfulDryRuns()
        try await pairStatusesKeepRealAndDryRunsApart()
        try await queriesFilterAndPage()
        try await pruningDeletesOnlyOldRuns()
        try await aPlanStoredWithEscapedPathsMatchesTheSamePlanStoredExactly()
        try await aRunRecordedWhileItRunsIsCompletedExactlyOnce()
        try await conflictsListTheirCopiesAndWhetherTheyWereResolved()
    }

    /// A pair's conflicts, newest first, with their copies; a copy deleted by a later run is
    /// resolved; dry runs and other pairs are left out.
    public func conflictsListTheirCopiesAndWhetherTheyWereResolved() async throws {
        let store = try await makeStore()
        func record(_ sequence: Int, _ operation: Operation, _ path: String, conflict: Bool = false, dryRun: Bool = false) -> OperationRecord {
            OperationRecord(
                sequence: sequence, operation: operation, filepath: path, sizeBefore: conflict ? 10 : nil, sizeAfter: conflict ? 20 : 10,
                startedAt: Timestamp(seconds: 1_800_000_001), dryRun: dryRun, direction: "b-to-a", conflict: conflict)
        }
        let copy = "doc.conflict-hp-20270115-093000.txt"
        _ = try await Self.store(
            store, Self.iteration(run: "c1", pair: "photos", startedAt: 1_800_000_000),
            [record(1, .create, "a.jpg"), record(2, .update, "doc.txt", conflict: true), record(3, .create, copy)])
        _ = try await Self.store(
            store, Self.iteration(run: "c2", pair: "photos", startedAt: 1_800_000_100),
            [
                record(1, .update, "<b>x</b>.txt", conflict: true), record(2, .create, "<b>x</b>.conflict-hp-20270115-093100.txt"),
                record(3, .delete, copy),
            ])
        _ = try await Self.store(
            store, Self.iteration(run: "c3", pair: "photos", dryRun: true, startedAt: 1_800_000_200),
            [record(1, .update, "dry.txt", conflict: true, dryRun: true), record(2, .create, "dry.conflict-hp-1.txt", dryRun: true)])
        _ = try await Self.store(
            store, Self.iteration(run: "c4", pair: "media", startedAt: 1_800_000_300),
            [record(1, .update, "other.txt", conflict: true), record(2, .create, "other.conflict-hp-1.txt")])

        let conflicts = try await store.conflicts(pair: "photos", limit: 10)
        #expect(conflicts.map(\.conflict.record.filepath) == ["<b>x</b>.txt", "doc.txt"])
        #expect(conflicts.map(\.copyPath) == ["<b>x</b>.conflict-hp-20270115-093100.txt", copy])
        #expect(conflicts.map(\.resolved) == [false, true])
        #expect(conflicts.first?.conflict.record.sizeBefore == 10 && conflicts.first?.conflict.record.sizeAfter == 20)
        #expect(conflicts.first?.conflict.record.direction == "b-to-a")
        #expect(try await store.conflicts(pair: "photos", limit: 1).count == 1)
        #expect(try await store.conflicts(pair: "games", limit: 10).isEmpty)
        await store.close()
    }

    /// A run's row appears as `running` with its counters as operations arrive; the flush of
    /// the whole opslog afterwards adds only what is missing and completes the row.
    public func aRunRecordedWhileItRunsIsCompletedExactlyOnce() async throws {
        let store = try await makeStore()
        let final = Self.iteration(run: "live")
        var started = IterationRecord(
            runID: "live", pair: final.pair, direction: final.direction, source: final.source, destination: final.destination,
            startedAt: final.startedAt, dryRun: false)
        started.filterFingerprint = final.filterFingerprint
        let id = try await store.begin(started)
        #expect(try await store.begin(started) == id, "begin is idempotent by run id")
        let beginning = try #require(try await store.iteration(id: id))
        #expect(beginning.record.status == .running)
        #expect(beginning.record.endedAt == nil)

        let records = Self.operations(1200, paths: Self.awkwardPaths)
        var progress = started
        progress.filesCreated = 400
        progress.bytesTransferred = 12345
        try await store.append(Array(records[..<700]), progress: progress, iterationID: id)
        try await store.append(Array(records[700..<1000]), progress: progress, iterationID: id)
        let midway = try #require(try await store.iteration(id: id))
        #expect(midway.record.status == .running)
        #expect(midway.record.filesCreated == 400)
        #expect(midway.record.bytesTransferred == 12345)
        #expect(try await store.operations(OperationQuery(iterationID: id, limit: 5000)).count == 1000)
        let statuses = try await store.pairStatuses()
        #expect(statuses.first?.lastReal?.record.status == .running, "the dashboard sees the run in progress")

        // The flush hands over the whole opslog: the first 1000 are skipped, the row completed.
        #expect(try await Self.store(store, final, records, batch: 333) == .stored(iterationID: id))
        let completed = try #require(try await store.iteration(id: id))
        #expect(completed.record == final)
        let stored = try await store.operations(OperationQuery(iterationID: id, limit: 5000))
        #expect(stored.map(\.record) == records)
        // Once complete, a second flush changes nothing.
        #expect(try await Self.store(store, final, records) == .alreadyStored(iterationID: id))
        #expect(try await store.operations(OperationQuery(iterationID: id, limit: 5000)).count == 1200)
        #expect(try await store.iterations(IterationQuery(limit: 10)).count == 1)
        await store.close()
    }

    public func storesAndReadsBackExactly() async throws {
        let store = try await makeStore()
        let records = Self.operations(1500, paths: Self.awkwardPaths)
        let iteration = Self.iteration(run: "run-1")
        guard case .stored(let id) = try await Self.store(store, iteration, records) else {
            Issue.record("first store must insert")
            return
        }
        let stored = try #require(try await store.iteration(id: id))
        #expect(stored.record == iteration)
        var read: [StoredOperation] = []
        var after: Int64?
        while true {
            let page = try await store.operations(OperationQuery(iterationID: id, limit: 400, afterID: after))
            read += page
            guard let last = page.last else { break }
            after = last.id
        }
        #expect(read.map(\.record) == records)
        for (index, operation) in read.prefix(Self.awkwardPaths.count).enumerated() {
            let path = Self.awkwardPaths[index]
            #expect(RelativePath.bytes(stored: operation.record.filepath, escaped: operation.record.filepathEscaped) == path.bytes)
            let plain = !path.bytes.contains(0x0A)
            #expect(operation.record.filepathEscaped == !plain)
            if plain { #expect(operation.record.filepath == String(decoding: path.bytes, as: UTF8.self), "stored exactly") }
        }
        await store.close()
    }

    /// Dry runs recorded before names were stored exactly (every path escaped) and after must
    /// still compare equal, or every pair would record one spurious dry run after an upgrade.
    public func aPlanStoredWithEscapedPathsMatchesTheSamePlanStoredExactly() async throws {
        let store = try await makeStore()
        let old = Self.operations(12, dryRun: true, paths: Self.awkwardPaths, escapeAll: true)
        _ = try await Self.store(store, Self.iteration(run: "v1-dry", dryRun: true), old)
        let new = Self.operations(12, dryRun: true, paths: Self.awkwardPaths)
        #expect(old.map(\.filepath) != new.map(\.filepath), "the two forms differ as text")
        let fingerprint = try #require(try await store.lastSuccessfulDryRun(pair: "media", direction: "dell-to-hp"))
        #expect(fingerprint.digest == PlanDigest(new.map(\.planKey)))
        await store.close()
    }

    public func storingTwiceIsIdempotent() async throws {
        let store = try await makeStore()
        let records = Self.operations(10)
        guard case .stored(let id) = try await Self.store(store, Self.iteration(run: "same"), records) else {
            Issue.record("first store must insert")
            return
        }
        #expect(try await Self.store(store, Self.iteration(run: "same"), records) == .alreadyStored(iterationID: id))
        #expect(try await store.iterations(IterationQuery(limit: 100)).count == 1)
        #expect(try await store.operations(OperationQuery(iterationID: id, limit: 100)).count == 10)
        await store.close()
    }

    struct Broken: Error {}

    public func aFailedStoreLeavesNothingBehind() async throws {
        let store = try await makeStore()
        var calls = 0
        await #expect(throws: (any Error).self) {
            _ = try await store.store(Self.iteration(run: "broken")) {
                calls += 1
                if calls == 3 { throw Broken() }
                return Self.operations(5)
            }
        }
        #expect(try await store.iterations(IterationQuery(limit: 10)).isEmpty, "the transaction was rolled back")
        // And the same run can be stored afterwards.
        guard case .stored = try await Self.store(store, Self.iteration(run: "broken"), Self.operations(3)) else {
            Issue.record("a retry after a rollback must store")
            return
        }
        await store.close()
    }

    public func dryRunFingerprintOnlySeesSuccessfulDryRuns() async throws {
        let store = try await makeStore()
        #expect(try await store.lastSuccessfulDryRun(pair: "media", direction: "dell-to-hp") == nil)
        let planned = Self.operations(20, dryRun: true)
        _ = try await Self.store(store, Self.iteration(run: "dry-1", dryRun: true, startedAt: 1_800_000_000), planned)
        _ = try await Self.store(store, Self.iteration(run: "real", startedAt: 1_800_000_100), Self.operations(3))
        _ = try await Self.store(
            store, Self.iteration(run: "dry-failed", dryRun: true, status: .failed, startedAt: 1_800_000_200), Self.operations(1, dryRun: true))
        _ = try await Self.store(store, Self.iteration(run: "other-direction", direction: "hp-to-dell", dryRun: true, startedAt: 1_800_000_300), [])
        let fingerprint = try #require(try await store.lastSuccessfulDryRun(pair: "media", direction: "dell-to-hp"))
        #expect(fingerprint.digest == PlanDigest(planned.reversed().map(\.planKey)))
        #expect(fingerprint.startedAt == Timestamp(seconds: 1_800_000_000, nanoseconds: 123_000_000))
        await store.close()
    }

    public func pairStatusesKeepRealAndDryRunsApart() async throws {
        let store = try await makeStore()
        _ = try await Self.store(store, Self.iteration(run: "r1", startedAt: 1_800_000_000), [])
        _ = try await Self.store(store, Self.iteration(run: "r2", status: .failed, startedAt: 1_800_000_500), [])
        _ = try await Self.store(store, Self.iteration(run: "d1", dryRun: true, startedAt: 1_800_000_900), [])
        // Flushed late (after an outage) but older: must not become "the last run".
        _ = try await Self.store(store, Self.iteration(run: "r0", startedAt: 1_799_999_000), [])
        _ = try await Self.store(store, Self.iteration(run: "p1", pair: "photos", startedAt: 1_800_000_000), [])
        let statuses = try await store.pairStatuses()
        #expect(statuses.map(\.pair) == ["media", "photos"])
        let media = try #require(statuses.first)
        #expect(media.lastReal?.record.runID == "r2")
        #expect(media.lastDryRun?.record.runID == "d1")
        #expect(media.lastRealSuccess == Timestamp(seconds: 1_800_000_000, nanoseconds: 123_000_000))
        #expect(statuses.last?.lastDryRun == nil)
        await store.close()
    }

    public func queriesFilterAndPage() async throws {
        let store = try await makeStore()
        for index in 0..<5 {
            _ = try await Self.store(store, Self.iteration(run: "m\(index)", dryRun: index == 2, startedAt: 1_800_000_000 + Int64(index)), [])
        }
        _ = try await Self.store(store, Self.iteration(run: "p", pair: "photos"), [])
        let all = try await store.iterations(IterationQuery(limit: 100))
        #expect(all.map(\.record.runID) == ["p", "m4", "m3", "m2", "m1", "m0"])
        let media = try await store.iterations(IterationQuery(pair: "media", dryRun: false, limit: 2))
        #expect(media.map(\.record.runID) == ["m4", "m3"])
        let next = try await store.iterations(IterationQuery(pair: "media", dryRun: false, limit: 2, beforeID: media.last?.id))
        #expect(next.map(\.record.runID) == ["m1", "m0"])

        guard case .stored(let id) = try await Self.store(store, Self.iteration(run: "ops"), Self.operations(10)) else { return }
        let failures = try await store.operations(OperationQuery(iterationID: id, succeeded: false, limit: 100))
        #expect(failures.map(\.record.sequence) == [5, 10])
        #expect(failures.allSatisfy { $0.record.errorMessage == "open 'x': Permission denied" })
        await store.close()
    }

    public func pruningDeletesOnlyOldRuns() async throws {
        let store = try await makeStore()
        _ = try await Self.store(store, Self.iteration(run: "old", startedAt: 1_700_000_000), Self.operations(25))
        _ = try await Self.store(store, Self.iteration(run: "new", startedAt: 1_900_000_000), Self.operations(4))
        let result = try await store.pruneHistory(before: Timestamp(seconds: 1_800_000_000), batchSize: 7)
        #expect(result == PruneResult(iterations: 1, operations: 25))
        let left = try await store.iterations(IterationQuery(limit: 10))
        #expect(left.map(\.record.runID) == ["new"])
        #expect(try await store.operations(OperationQuery(iterationID: left[0].id, limit: 100)).count == 4)
        await store.close()
    }
}
