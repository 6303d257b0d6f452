import Foundation
import SyncCore
import Synchronization
import Testing

@testable import SyncTrees

/// One walk of a source for several destinations.
@Suite("Shared source listings")
struct SharedListingsTests {
    /// A source of `folders` folders with `entries` files each, counting how often each is listed.
    final class CountingSource: Sendable {
        let tree = InMemoryTree()
        let reads = Mutex<[RelativePath: Int]>([:])

        init(folders: Int, entries: Int) {
            for folder in 0..<folders {
                for entry in 0..<entries { tree.setFile("d\(folder)/f\(entry)", "x", modified: Timestamp(seconds: 1_700_000_000)) }
            }
        }

        func list(_ listings: SharedListings, _ path: RelativePath, consumer: Int) throws -> DirectoryListing {
            try listings.listing(path, kindsOnly: false, consumer: consumer) {
                reads.withLock { $0[path, default: 0] += 1 }
                return try tree.list(path)
            }
        }

        var totalReads: Int { reads.withLock { $0.values.reduce(0, +) } }
    }

    @Test func eachFolderIsReadOnceForEveryDestination() throws {
        let source = CountingSource(folders: 20, entries: 5)
        let listings = SharedListings(consumers: 3)
        for consumer in 0..<3 {
            for folder in 0..<20 {
                let listing = try source.list(listings, RelativePath("d\(folder)"), consumer: consumer)
                #expect(listing.entries.count == 5)
            }
        }
        #expect(source.totalReads == 20)
        let statistics = listings.currentStatistics
        #expect(statistics.sharedReads == 20 && statistics.hits == 40 && statistics.rereads == 0)
        #expect(listings.keptEntries == 0, "every listing was handed to all three and let go")
    }

    @Test func aDestinationFarBehindReadsAgainInsteadOfHoldingMemory() throws {
        let source = CountingSource(folders: 50, entries: 10)
        // Room for 10 folders' listings: the slow destination finds the first 40 dropped.
        let listings = SharedListings(consumers: 2, capacity: 100)
        for folder in 0..<50 { _ = try source.list(listings, RelativePath("d\(folder)"), consumer: 0) }
        #expect(listings.keptEntries <= 100)
        for folder in 0..<50 { _ = try source.list(listings, RelativePath("d\(folder)"), consumer: 1) }
        let statistics = listings.currentStatistics
        #expect(statistics.rereads == 40)
        #expect(statistics.hits == 10)
        #expect(source.totalReads == 90)
        #expect(listings.keptEntries == 0)
    }

    @Test func aDestinationThatLeavesHoldsNothingBack() throws {
        let source = CountingSource(folders: 10, entries: 3)
        let listings = SharedListings(consumers: 3)
        for folder in 0..<10 { _ = try source.list(listings, RelativePath("d\(folder)"), consumer: 0) }
        #expect(listings.keptEntries == 30)
        listings.leave(1)  // failed at its start
        #expect(listings.keptEntries == 30, "consumer 2 still needs them")
        listings.leave(2)
        #expect(listings.keptEntries == 0)
        // Read after everyone else left: nothing is kept for anyone.
        _ = try source.list(listings, RelativePath("d0"), consumer: 0)
        #expect(listings.keptEntries == 0)
    }

    @Test func aFailedListingIsSharedToo() throws {
        let source = CountingSource(folders: 1, entries: 1)
        source.tree.inject(.permissionDenied, at: .list, path: "d0")
        let listings = SharedListings(consumers: 2)
        for consumer in 0..<2 {
            #expect(throws: SyncTreeError.self) { try source.list(listings, RelativePath("d0"), consumer: consumer) }
        }
        #expect(source.totalReads == 1)
    }

    @Test func asksWhileAReadIsInFlightWaitForIt() async throws {
        let source = CountingSource(folders: 1, entries: 4)
        let listings = SharedListings(consumers: 2)
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let first = Thread {
            _ = try? listings.listing(RelativePath("d0"), kindsOnly: false, consumer: 0) {
                started.signal()
                release.wait()  // the source is slow
                source.reads.withLock { $0[RelativePath("d0"), default: 0] += 1 }
                return try source.tree.list(RelativePath("d0"))
            }
        }
        first.start()
        started.wait()
        let second = Task.detached { try source.list(listings, RelativePath("d0"), consumer: 1).entries.count }
        try await Task.sleep(for: .milliseconds(50))
        release.signal()
        #expect(try await second.value == 4)
        #expect(source.totalReads == 1, "the second destination waited for the first read instead of reading again")
    }
}
