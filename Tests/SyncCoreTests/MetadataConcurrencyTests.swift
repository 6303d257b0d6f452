import SyncCore
import Testing

@Suite("Metadata concurrency")
struct MetadataConcurrencyTests {
    @Test(
        arguments: [
            // observed µs per request, workers, expected limit
            (nil, 4, 8),  // nothing seen yet: twice --workers
            (5.0, 4, 8),  // local disk: the floor
            (150.0, 4, 8),  // 150 / 25 = 6, under the floor
            (500.0, 4, 20),  // LAN NFS, cold cache
            (2000.0, 4, 32),  // WAN-like: the ceiling
            (2000.0, 20, 40),  // a floor above the default ceiling wins
            (-1.0, 4, 8),
            (Double.infinity, 4, 8),
        ] as [(Double?, Int, Int)])
    func theLimitFollowsTheObservedLatency(observed: Double?, workers: Int, expected: Int) {
        #expect(MetadataConcurrency(workers: workers).limit(observedMicrosPerRequest: observed) == expected)
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
}
