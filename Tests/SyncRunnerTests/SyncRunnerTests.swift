import AuditLog
import Foundation
import RunLock
import SyncCore
import SyncEngine
import SyncRunner
import SyncTestSupport
import SyncTrees
import Testing

/// The runner with trees, lock and store in memory: what only end-to-end tests reached before.
@Suite("Sync runner", .timeLimit(.minutes(1)))
struct SyncRunnerTests {
    let t0 = Timestamp(seconds: 1_700_000_000)

    @Test func aRunSyncsRecordsAndReleasesTheLock() async throws {
        let harness = try RunnerHarness()
        harness.source.setFile("photos/a.jpg", "jpeg", modified: t0)
        harness.source.setFile("notes.txt", "hello", modified: t0)

        let outcome = await harness.runner().run()

        #expect(outcome.status == .success)
        #expect(harness.destination.text(at: "photos/a.jpg") == "jpeg")
        #expect(harness.locks.holder(of: harness.lockName) == nil)
        let iterations = try await harness.iterations()
        #expect(iterations.count == 1)
        #expect(iterations.first?.record.status == .success)
        #expect(iterations.first?.record.filesCreated == 3)
        #expect(iterations.first?.record.startedAt == harness.clock.now)
        #expect(harness.reporter.events.reports.count == 1)
    }

    @Test func aPairLockedByAnotherRunIsLeftAlone() async throws {
        let harness = try RunnerHarness()
        harness.source.setFile("a.txt", "a", modified: t0)
        guard case .acquired(let other) = try await harness.locks.lock(harness.lockName, holder: "other/hp-to-dell").acquire() else {
            Issue.record("the first lock should be free")
            return
        }

        let outcome = await harness.runner().run()

        #expect(outcome.status == .success)
        #expect(harness.reporter.events.held == ["other/hp-to-dell"])
        #expect(harness.destination.paths.isEmpty)
        #expect(try await harness.iterations().isEmpty)
        await other.release()
    }

    @Test func theDeleteGuardRefusesAndChangesNothing() async throws {
        var harness = try RunnerHarness()
        harness.configuration.deleteMissing = true
        harness.source.setFile("kept.txt", "k", modified: t0)
        harness.destination.setFile("kept.txt", "k", modified: t0)
        for index in 0..<5 { harness.destination.setFile("only-on-b-\(index).txt", "b", modified: t0) }
        let before = harness.destination.paths

        let outcome = await harness.runner().run()

        #expect(outcome.status == .refused)
        #expect(harness.destination.paths == before)
        #expect(try await harness.iterations().first?.record.status == .failed)
        #expect(harness.locks.holder(of: harness.lockName) == nil)
    }

    @Test func aSourceThatCannotBeOpenedFailsTheRunAndIsAudited() async throws {
        let harness = try RunnerHarness()
        let store = harness.store
        let parts = SyncRunner<InMemoryTree, InMemoryTree>.Parts(
            lock: harness.locks.lock(harness.lockName, holder: "t"),
            openStore: { store },
            openSource: { throw SyncTreeError(code: .notFound, operation: "open directory", path: nil, detail: "/a") },
            openDestination: { _ in harness.destination })
        let runner = SyncRunner(
            configuration: harness.configuration, parts: parts, reporter: harness.reporter, clock: harness.clock, logger: .init(label: "t"))

        let outcome = await runner.run()

        #expect(outcome.status == .failed)
        #expect(outcome.message?.hasPrefix("source directory /a cannot be used") == true)
        let record = try await harness.iterations().first?.record
        #expect(record?.status == .failed)
        #expect(record?.errorMessage == outcome.message)
        #expect(harness.locks.holder(of: harness.lockName) == nil)
    }

    @Test func aStopBeforeTheRunSyncsNothingAndReleasesTheLock() async throws {
        let harness = try RunnerHarness()
        harness.source.setFile("a.txt", "a", modified: t0)
        harness.shutdown.signal(.terminated, reason: "received SIGTERM")

        let outcome = await harness.runner().run()

        #expect(outcome.status == .terminated)
        #expect(harness.destination.paths.isEmpty)
        #expect(harness.locks.holder(of: harness.lockName) == nil)
    }

    @Test func aStopWhileTheStoreHangsEndsTheRunAtOnce() async throws {
        let harness = try RunnerHarness()
        harness.source.setFile("a.txt", "a", modified: t0)
        let connecting = AsyncStream<Void>.makeStream()
        let runner = harness.runner(openStore: {
            connecting.continuation.yield()
            try await Task.sleep(for: .seconds(3600))  // a frozen server: only cancellation ends it
            throw CancellationError()
        })

        async let outcome = runner.run()
        var iterator = connecting.stream.makeAsyncIterator()
        _ = await iterator.next()
        #expect(harness.locks.holder(of: harness.lockName) != nil)
        harness.shutdown.signal(.terminated, reason: "received SIGTERM")

        #expect(await outcome.status == .terminated)
        #expect(harness.destination.paths.isEmpty)
        #expect(harness.locks.holder(of: harness.lockName) == nil)
    }

    @Test func aStopWhileWaitingForTheLockEndsTheRunAtOnce() async throws {
        let harness = try RunnerHarness()
        async let outcome = harness.runner(lock: HangingLock()).run()
        try await Task.sleep(for: .milliseconds(50))
        harness.shutdown.signal(.interrupted, reason: "received SIGINT")

        #expect(await outcome.status == .interrupted)
        #expect(harness.reporter.events.reports.isEmpty)
    }

    @Test func losingTheLockStopsEveryWrite() async throws {
        let harness = try RunnerHarness()
        for index in 0..<2000 { harness.source.setFile("f\(index).txt", "x", modified: t0) }
        let lock = LosingLock()

        let outcome = await harness.runner(lock: lock).run()

        #expect(outcome.status == .failed)
        #expect(outcome.report?.interruption?.contains("lost the run lock") == true)
        #expect(harness.destination.writeCount < 2000)
        #expect(lock.released.withLock { $0 })
        #expect(try await harness.iterations().first?.record.status == .failed)
    }

    @Test func anUnreachableStoreNeverBlocksTheSync() async throws {
        let harness = try RunnerHarness()
        harness.source.setFile("a.txt", "a", modified: t0)
        harness.store.setUnreachable(true)

        let outcome = await harness.runner().run()

        #expect(outcome.status == .success)
        #expect(harness.destination.text(at: "a.txt") == "a")
        harness.store.setUnreachable(false)
        // The opslog waits in the log directory; the next run flushes it first.
        _ = await harness.runner().run()
        #expect(try await harness.iterations().count == 2)
    }

    @Test func aRepeatedDryRunIsRecordedOnce() async throws {
        var harness = try RunnerHarness()
        harness.configuration.dryRun = true
        harness.source.setFile("a.txt", "a", modified: t0)

        _ = await harness.runner().run()
        _ = await harness.runner().run()

        #expect(harness.destination.paths.isEmpty)
        #expect(try await harness.iterations().count == 1)
        #expect(harness.reporter.events.dryRunCurrent == 1)
    }

    @Test func unflushedOpslogsExpireByTheInjectedClock() async throws {
        let harness = try RunnerHarness()
        harness.source.setFile("a.txt", "a", modified: t0)
        harness.store.setUnreachable(true)
        let directory = harness.configuration.logDirectory
        _ = await harness.runner().run()
        let first = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).first { $0.hasSuffix(".jsonl") })

        harness.clock.advance(by: .seconds(9 * 86_400))
        _ = await harness.runner().run()
        #expect(FileManager.default.fileExists(atPath: directory + "/" + first), "younger than --log-retain-days (10): kept")

        harness.clock.advance(by: .seconds(2 * 86_400))
        _ = await harness.runner().run()
        #expect(!FileManager.default.fileExists(atPath: directory + "/" + first), "11 days old by the run's clock: deleted")
    }
}
