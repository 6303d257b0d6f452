import AuditLog
import AuditTestSupport
import Foundation
import Logging
import SyncCore
import SyncTestSupport
import Testing

@Suite("Opslog")
struct OpslogTests {
    let directory: String

    init() throws {
        directory = try AuditStoreTests.scratchDirectory()
    }

    private func result(_ path: RelativePath, _ action: Action = .create, failed: Bool = false) -> OperationResult {
        OperationResult(
            path: path, action: action, kind: .file, sizeBefore: action == .create ? nil : 3, sizeAfter: 5,
            md5After: "d41d8cd98f00b204e9800998ecf8427e", startedAt: Timestamp(seconds: 1_800_000_000, nanoseconds: 1),
            endedAt: Timestamp(seconds: 1_800_000_000, nanoseconds: 999_999_999), status: failed ? .failed : .success,
            errorMessage: failed ? "write 'x': No space left on device" : nil, bytesTransferred: 5)
    }

    @Test func aFinishedOpslogReadsBackExactly() throws {
        var iteration = AuditStoreConformance.iteration(run: "r1")
        iteration.status = .running
        let writer = try OpslogWriter.create(in: directory, for: iteration)
        #expect(writer.path.hasPrefix(directory + "/opslog-media-dell-to-hp-"))
        #expect(writer.path.hasSuffix(".jsonl"))
        for path in AuditStoreConformance.awkwardPaths { writer.append(result(path)) }
        writer.append(result(RelativePath("skipped"), .skip(.vanished)))
        writer.append(result(RelativePath("bad \"\\ \u{1} name"), .update(.sourceNewer), failed: true))
        var finished = iteration
        var summary = SyncSummary()
        summary.created = 6
        summary.failed = 1
        finished.finish(status: .partialFailure, summary: summary, endedAt: Timestamp(seconds: 1_800_000_009), errorMessage: "1 paths failed")
        try writer.finish(finished)

        let file = try OpslogFile(path: writer.path)
        #expect(file.complete)
        #expect(file.operationCount == AuditStoreConformance.awkwardPaths.count + 1)
        #expect(file.iteration == finished)
        let operations = try file.operations()
        #expect(operations.count == AuditStoreConformance.awkwardPaths.count + 1, "skips are not operations")
        #expect(operations.map(\.sequence) == Array(1...operations.count))
        for (operation, path) in zip(operations, AuditStoreConformance.awkwardPaths) {
            #expect(RelativePath.bytes(stored: operation.filepath, escaped: operation.filepathEscaped) == path.bytes)
            #expect(operation.startedAt == Timestamp(seconds: 1_800_000_000, nanoseconds: 1))
        }
        let last = try #require(operations.last)
        #expect(last.filepath == RelativePath("bad \"\\ \u{1} name").escaped, "a control character: the escaped form")
        #expect(last.filepathEscaped)
        #expect(!last.succeeded)
        #expect(last.errorMessage == "write 'x': No space left on device")
        #expect(writer.digest == PlanDigest(), "real runs need no plan fingerprint")
    }

    @Test func aDryRunsOpslogKeepsThePlanFingerprint() throws {
        let iteration = AuditStoreConformance.iteration(run: "dry", dryRun: true)
        let writer = try OpslogWriter.create(in: directory, for: iteration)
        for path in AuditStoreConformance.awkwardPaths { writer.append(result(path)) }
        try writer.finish(iteration)
        let operations = try OpslogFile(path: writer.path).operations()
        #expect(operations.allSatisfy { $0.dryRun })
        #expect(writer.digest == PlanDigest(operations.map(\.planKey)))
    }

    @Test func aKilledRunsOpslogBecomesAFailedRunAndATornLineIsIgnored() throws {
        let iteration = AuditStoreConformance.iteration(run: "killed")
        let writer = try OpslogWriter.create(in: directory, for: iteration)
        writer.append(result(RelativePath("one")))
        writer.append(result(RelativePath("two")))
        writer.abandon()
        // A crash in the middle of a write leaves half a line.
        let handle = try #require(FileHandle(forWritingAtPath: writer.path))
        handle.seekToEndOfFile()
        handle.write(Data("{\"type\":\"op\",\"seq\":3,\"operation\":\"cre".utf8))
        handle.closeFile()

        let file = try OpslogFile(path: writer.path)
        #expect(!file.complete)
        #expect(file.iteration.status == .failed)
        #expect(file.iteration.errorMessage?.contains("interrupted") == true)
        #expect(file.operationCount == 2)
        let reader = try file.batchReader(size: 10)
        #expect(try reader.next()?.count == 2)
        #expect(reader.damagedLines == 0, "the torn last line is expected after a crash, not damage")
        #expect(try file.operations().map(\.filepath) == ["one", "two"])
    }

    @Test func anOpslogWithoutHeaderIsRefused() throws {
        let path = directory + "/opslog-x-fwd-20260101T000000.000Z.jsonl"
        try Data("garbage\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: AuditError.self) { try OpslogFile(path: path) }
    }

    @Test func sqlTimeRoundTrips() {
        let time = Timestamp(seconds: 1_795_246_120, nanoseconds: 389_000_000)
        #expect(SQLTime.format(time) == "2026-11-21 07:28:40.389")
        #expect(SQLTime.parse("2026-11-21 07:28:40.389") == time)
        #expect(SQLTime.parse("2026-11-21 07:28:40") == Timestamp(seconds: 1_795_246_120))
        #expect(SQLTime.parse("2026-11-21 07:28:40.389123") == Timestamp(seconds: 1_795_246_120, nanoseconds: 389_123_000))
        #expect(SQLTime.parse("yesterday") == nil)
    }

    @Test func planDigestIgnoresOrderButNotContent() {
        let keys = (0..<50).map { PlanKey(filepath: "f\($0)", operation: .create, sizeBefore: nil) }
        #expect(PlanDigest(keys) == PlanDigest(keys.shuffled()))
        var changed = keys
        changed[7].sizeBefore = 0
        #expect(PlanDigest(keys) != PlanDigest(changed))
        #expect(PlanDigest(keys) != PlanDigest(keys.dropLast()))
        #expect(PlanDigest(keys + [keys[0]]) != PlanDigest(keys), "a duplicate counts")
    }
}

@Suite("Opslog flusher")
struct OpslogFlusherTests {
    let directory: String
    let flusher: OpslogFlusher

    init() throws {
        directory = try AuditStoreTests.scratchDirectory()
        flusher = OpslogFlusher(directory: directory, logger: Logger(label: "test"))
    }

    private func writeOpslog(run: String, startedAt: Int64, operations: Int = 2, finish: Bool = true) throws -> String {
        let iteration = AuditStoreConformance.iteration(run: run, startedAt: startedAt)
        let writer = try OpslogWriter.create(in: directory, for: iteration)
        for index in 0..<operations {
            writer.append(
                OperationResult(
                    path: RelativePath("f\(index)"), action: .create, kind: .file, startedAt: iteration.startedAt, endedAt: iteration.startedAt))
        }
        if finish { try writer.finish(iteration) } else { writer.abandon() }
        return writer.path
    }

    @Test func pendingOpslogsAreFlushedOldestFirstAndRemoved() async throws {
        _ = try writeOpslog(run: "newer", startedAt: 1_800_000_500)
        _ = try writeOpslog(run: "older", startedAt: 1_800_000_000)
        _ = try writeOpslog(run: "killed", startedAt: 1_800_000_900, finish: false)
        let store = InMemoryAuditStore()
        let (flushed, error) = await flusher.flushPending(to: store)
        #expect(flushed == 3)
        #expect(error == nil)
        #expect(flusher.pendingOpslogs().isEmpty)
        let stored = try await store.iterations(IterationQuery(limit: 10))
        #expect(stored.map(\.record.runID) == ["killed", "newer", "older"], "ids follow the flush order: oldest first")
        #expect(stored.first?.record.status == .failed)
    }

    @Test func aChildSharingAFinishedOpslogDoesNotMakeItBusy() async throws {
        let iteration = AuditStoreConformance.iteration(run: "shared", startedAt: 1_800_000_000)
        let writer = try OpslogWriter.create(in: directory, for: iteration)
        let child = try #require(SharingChild(sharingOpenFileOf: writer.path))
        defer { child.stop() }
        try writer.finish(iteration)
        let (flushed, error) = await flusher.flushPending(to: InMemoryAuditStore())
        #expect(error == nil)
        #expect(flushed == 1, "a child forked while the run wrote (not yet exec'd) must not hold the finished opslog")
    }

    @Test func anUnreachableStoreLeavesEverythingInPlace() async throws {
        _ = try writeOpslog(run: "a", startedAt: 1_800_000_000)
        let store = InMemoryAuditStore()
        store.setUnreachable(true)
        let (flushed, error) = await flusher.flushPending(to: store)
        #expect(flushed == 0)
        #expect(error != nil)
        #expect(flusher.pendingOpslogs().count == 1)
        store.setUnreachable(false)
        #expect(await flusher.flushPending(to: store).flushed == 1)
        #expect(await flusher.flushPending(to: store).flushed == 0)
        #expect(try await store.iterations(IterationQuery(limit: 10)).count == 1)
    }

    @Test func anOpslogHeldByARunInProgressIsLeftAlone() async throws {
        let iteration = AuditStoreConformance.iteration(run: "in-progress")
        let writer = try OpslogWriter.create(in: directory, for: iteration)
        let store = InMemoryAuditStore()
        #expect(try await flusher.flush(writer.path, to: store) == .busy)
        #expect(flusher.removeExpired(olderThanDays: 0, now: Timestamp(seconds: Timestamp.now().seconds + 86_400 * 30)).isEmpty)
        try writer.finish(iteration)
        #expect(try await flusher.flush(writer.path, to: store) == .stored(iterationID: 1, operations: 0))
    }

    @Test func aRunAlreadyStoredIsOnlyRemoved() async throws {
        let path = try writeOpslog(run: "twice", startedAt: 1_800_000_000)
        let copy = path + ".copy"
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        let store = InMemoryAuditStore()
        #expect(try await flusher.flush(path, to: store) == .stored(iterationID: 1, operations: 2))
        try FileManager.default.moveItem(atPath: copy, toPath: path)  // as if the deletion had not happened
        #expect(try await flusher.flush(path, to: store) == .alreadyStored(iterationID: 1))
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try await store.operations(OperationQuery(iterationID: 1)).count == 2)
    }

    @Test func retentionDeletesOnlyOldOpslogs() throws {
        let old = try writeOpslog(run: "old", startedAt: 1_700_000_000)
        let recent = try writeOpslog(run: "recent", startedAt: 1_800_000_000)
        let now = Timestamp.now()
        var times = [timespec(tv_sec: Int(now.seconds - 11 * 86_400), tv_nsec: 0), timespec(tv_sec: Int(now.seconds - 11 * 86_400), tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, old, &times, 0) == 0)
        #expect(flusher.removeExpired(olderThanDays: 10, now: now) == [old])
        #expect(FileManager.default.fileExists(atPath: recent))
    }
}
