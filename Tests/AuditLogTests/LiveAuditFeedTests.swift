import AuditLog
import AuditTestSupport
import Logging
import SyncCore
import SyncTestSupport
import Testing

@Suite("Live audit feed")
struct LiveAuditFeedTests {
    let clock = ManualClock()
    let store = InMemoryAuditStore()
    let started = IterationRecord(
        runID: "live", pair: "media", direction: "dell-to-hp", source: "/a", destination: "/b", startedAt: Timestamp(seconds: 1_800_000_000),
        dryRun: false)

    /// Runs the feed's loop beside `body`, then finishes it the way the runner does.
    func withFeed(_ feed: LiveAuditFeed, _ body: () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [clock] in await feed.run(every: .milliseconds(500), clock: clock) }
            try await body()
            feed.finish()
            group.cancelAll()
        }
    }

    /// One tick of the loop: wait for it to sleep, move the clock, wait for it to sleep again.
    func tick() async {
        #expect(await clock.waitForSleepers())
        clock.advance(by: .milliseconds(500))
        #expect(await clock.waitForSleepers())
    }

    @Test func operationsAndCountersReachTheStoreWhileTheRunRuns() async throws {
        let id = try await store.begin(started)
        let feed = LiveAuditFeed(store: store, iterationID: id, iteration: started, logger: Logger(label: "test"))
        let records = AuditStoreConformance.operations(30)
        try await withFeed(feed) {
            for record in records.prefix(20) { feed.add(record) }
            await tick()
            let row = try #require(try await store.iteration(id: id))
            #expect(row.record.status == .running)
            #expect(try await store.operations(OperationQuery(iterationID: id, limit: 100)).map(\.record) == Array(records.prefix(20)))
            let expected = records.prefix(20)
            #expect(row.record.filesCreated == expected.filter { $0.succeeded && $0.operation == .create }.count)
            #expect(row.record.filesFailed == expected.filter { !$0.succeeded }.count)
            #expect(row.record.versionsKept == expected.filter { $0.succeeded && $0.operation == .version }.count)
            for record in records.suffix(10) { feed.add(record) }
        }
        // The last ten arrived after the last tick: they are what the flush at the end stores.
        #expect(feed.remainder(expecting: 30) == Array(records.suffix(10)))
        #expect(feed.remainder(expecting: 31) == nil, "an operation the feed never saw means the opslog must be read")
    }

    @Test func aBacklogStopsTheOperationsButNotTheCounters() async throws {
        let id = try await store.begin(started)
        let feed = LiveAuditFeed(store: store, iterationID: id, iteration: started, logger: Logger(label: "test"))
        let records = AuditStoreConformance.operations(LiveAuditFeed.backlogLimit + 11)
        try await withFeed(feed) {
            // More than the store took before the next tick: the waiting operations are dropped.
            for record in records { feed.add(record) }
            #expect(!feed.takesOperations)
            #expect(feed.isLive)
            await tick()
            let row = try #require(try await store.iteration(id: id))
            #expect(row.record.filesCreated == records.filter { $0.succeeded && $0.operation == .create }.count, "every operation counted")
            #expect(try await store.operations(OperationQuery(iterationID: id, limit: 100)).isEmpty)
        }
        #expect(feed.remainder(expecting: records.count) == nil, "the opslog flush stores the operations")
    }

    @Test func everythingWaitingGoesInOneStore() async throws {
        // Operations arriving faster than the store takes them: each store takes all that
        // wait, so the feed catches up instead of falling a batch further behind each time.
        let id = try await store.begin(started)
        let feed = LiveAuditFeed(store: store, iterationID: id, iteration: started, logger: Logger(label: "test"))
        let records = AuditStoreConformance.operations(3 * LiveAuditFeed.batchSize + 5)
        try await withFeed(feed) {
            for record in records { feed.add(record) }
            await tick()
            let stored = try await store.operations(OperationQuery(iterationID: id, limit: records.count + 1))
            #expect(stored.count == records.count)
            #expect(feed.takesOperations)
        }
        #expect(feed.remainder(expecting: records.count)?.count == 0)
    }

    @Test func aStoreErrorStopsTheFeedAndLeavesEverythingToTheOpslog() async throws {
        let id = try await store.begin(started)
        let feed = LiveAuditFeed(store: store, iterationID: id, iteration: started, logger: Logger(label: "test"))
        let records = AuditStoreConformance.operations(5)
        try await withFeed(feed) {
            store.setUnreachable(true)
            for record in records { feed.add(record) }
            await tick()
            #expect(!feed.isLive)
            store.setUnreachable(false)
            feed.add(records[0])
            await tick()
        }
        #expect(feed.remainder(expecting: 6) == nil)
        #expect(try await store.operations(OperationQuery(iterationID: id, limit: 100)).isEmpty, "nothing half-stored")
    }
}
