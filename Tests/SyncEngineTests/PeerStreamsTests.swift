import Foundation
import Logging
import SyncCore
import SyncEngine
import SyncTrees
import Synchronization
import Testing

/// A destination that batches like a peer, reports a peer's 1 ms exchanges, and counts how
/// many batches it receives at once.
final class CountingPeerTree: ForwardingSyncTree, BatchingSyncTree {
    let base: InMemoryTree
    private let inFlight = Mutex((now: 0, most: 0, mostSmall: 0))
    var forwarded: any SyncTree { base }
    var prefersBatches: Bool { true }
    var roundTripMicros: Double? { 1000 }

    init(_ base: InMemoryTree) { self.base = base }

    var most: Int { inFlight.withLock { $0.most } }
    var mostWithSmall: Int { inFlight.withLock { $0.mostSmall } }

    func prefetchFiles(_ files: [(path: RelativePath, size: Int64)]) {}

    func receiveBatch(
        _ files: [IncomingFile], options: CopyOptions, shouldStop: @Sendable () -> Bool,
        completed: (Int, Result<CopyReport, any Error>) -> Void
    ) {
        let small = files.count == 1
        inFlight.withLock { state in
            state.now += 1
            state.most = max(state.most, state.now)
            if small { state.mostSmall = max(state.mostSmall, state.now) }
        }
        usleep(20_000)  // a round trip and the data, while others are admitted
        base.receiveFiles(files, options: options, shouldStop: shouldStop, completed: completed)
        inFlight.withLock { $0.now -= 1 }
    }
}

@Suite("Batches in flight to a peer")
struct PeerStreamsTests {
    let t0 = Timestamp(seconds: 1_700_000_000)

    @Test func batchesThatCarryDataAreFewAndSmallOnesAreMany() async throws {
        // 40 folders of 20 files of 32 KiB: each folder is one batch of 640 KiB, a stream.
        let heavy = InMemoryTree()
        for folder in 0..<40 {
            for file in 0..<20 { heavy.setFile("d\(folder)/f\(file)", String(repeating: "x", count: 32 << 10), modified: t0) }
        }
        let heavyDestination = CountingPeerTree(InMemoryTree())
        #expect(try await syncOneWay(heavy, heavyDestination).summary.created == 40 * 20 + 40)
        #expect(heavyDestination.most <= MetadataConcurrency(workers: 4).peerStreams)
        #expect(heavyDestination.most >= 2, "streams still overlap")

        // 40 folders with one small file each: batches that wait on their round trip.
        let light = InMemoryTree()
        for folder in 0..<40 { light.setFile("d\(folder)/f", "small", modified: t0) }
        let lightDestination = CountingPeerTree(InMemoryTree())
        #expect(try await syncOneWay(light, lightDestination).summary.created == 40 + 40)
        #expect(
            lightDestination.mostWithSmall > MetadataConcurrency(workers: 4).peerStreams, "small batches follow the latency, past the stream limit")
    }
}
