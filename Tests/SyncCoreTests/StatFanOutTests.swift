import SyncCore
import Testing

@Suite("Stat fan-out")
struct StatFanOutTests {
    @Test(
        arguments: [
            // remaining names, µs per stat observed by the probe, threads
            (10_000, 2.0, 1),  // local disk: one thread, however large the folder
            (10_000, 99.0, 1),  // still local
            (47, 500.0, 1),  // too few names to be worth a second thread
            (48, 500.0, 2),
            (100, 500.0, 4),
            (10_000, 500.0, 8),  // the ceiling per folder
            (10_000, .infinity, 1),  // a broken clock decides nothing
            (10_000, .nan, 1),
        ] as [(Int, Double, Int)])
    func threadsFollowTheProbeAndTheFolderSize(remaining: Int, observed: Double, threads: Int) {
        #expect(StatFanOut.standard.threads(remaining: remaining, observedMicrosPerStat: observed) == threads)
    }
}
