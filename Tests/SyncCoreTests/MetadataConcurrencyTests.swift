import SyncCore
import Testing

@Suite("Metadata concurrency")
struct MetadataConcurrencyTests {
    @Test(
        arguments: [
            // observed µs per request, workers, listings, small-file batches, remote
            (nil, 4, 8, 4, false),  // nothing seen yet: the local behaviour
            (5.0, 4, 8, 4, false),  // local disk: twice --workers listings, --workers batches
            (99.0, 4, 8, 4, false),  // still local
            (150.0, 4, 8, 6, true),  // slow: 150 / 25 = 6 batches, listings stay at their floor
            (500.0, 4, 20, 20, true),  // LAN NFS, cold cache
            (2000.0, 4, 32, 32, true),  // WAN-like: the ceiling
            (2000.0, 20, 40, 40, true),  // a floor above the default ceiling wins
            (-1.0, 4, 8, 4, false),
            (Double.infinity, 4, 8, 4, false),
        ] as [(Double?, Int, Int, Int, Bool)])
    func theLimitsFollowTheObservedLatency(observed: Double?, workers: Int, listings: Int, batches: Int, remote: Bool) {
        let concurrency = MetadataConcurrency(workers: workers)
        #expect(concurrency.listings(observedMicrosPerRequest: observed) == listings)
        #expect(concurrency.batches(observedMicrosPerRequest: observed) == batches)
        #expect(concurrency.isRemote(observedMicrosPerRequest: observed) == remote)
    }

    @Test func theEstimateMovesTowardsNewSamples() {
        var estimate = LatencyEstimate()
        #expect(estimate.microsPerRequest == nil)
        estimate.add(nanoseconds: 0, requests: 10)
        #expect(estimate.microsPerRequest == nil, "empty samples are ignored")
        estimate.add(nanoseconds: 1_000_000, requests: 100)  // 10 µs each
        #expect(estimate.microsPerRequest == 10)
        estimate.add(nanoseconds: 50_000_000, requests: 100)  // 500 µs each
        #expect(estimate.microsPerRequest == 132.5)
        for _ in 0..<20 { estimate.add(nanoseconds: 50_000_000, requests: 100) }
        #expect(abs(estimate.microsPerRequest! - 500) < 5)
    }

    /// A peer lists a 100-entry folder in one 1 ms exchange: 10 µs an entry looks local, yet
    /// every listing waits a round trip, so the peer's exchange time sets the pace.
    @Test func aPeersExchangeTimeRaisesTheEstimate() {
        var estimate = LatencyEstimate()
        #expect(estimate.microsPerRequest(peerExchangeMicros: nil) == nil)
        #expect(estimate.microsPerRequest(peerExchangeMicros: 1000) == 1000)
        estimate.add(nanoseconds: 1_000_000, requests: 100)
        #expect(estimate.microsPerRequest(peerExchangeMicros: nil) == 10)
        #expect(estimate.microsPerRequest(peerExchangeMicros: 1000) == 1000)
        #expect(estimate.microsPerRequest(peerExchangeMicros: 5) == 10, "a fast peer never lowers what the other side shows")
        let concurrency = MetadataConcurrency(workers: 4)
        #expect(concurrency.listings(observedMicrosPerRequest: estimate.microsPerRequest(peerExchangeMicros: 1000)) == 32)
        #expect(concurrency.isRemote(observedMicrosPerRequest: estimate.microsPerRequest(peerExchangeMicros: 1000)))
        // Batches that carry data to a peer are streams: a few fill the link, and each holds buffers.
        #expect(concurrency.batches(observedMicrosPerRequest: 1000) == 32)
        #expect(concurrency.peerStreams == 8)
        #expect(MetadataConcurrency(workers: 12).peerStreams == 12, "never below --workers")
    }
}
