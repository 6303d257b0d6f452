import SyncCore
import Testing

@testable import SyncEngine

/// How many operations go at once after a walk (deletes, a planned run's changes).
@Suite("Concurrency after a walk")
struct AfterWalkConcurrencyTests {
    let concurrency = MetadataConcurrency(workers: 4)

    @Test func aPeerGetsTheCeilingHoweverFastItsListingsLooked() {
        // A walk streams a peer's listings: microseconds per entry, and no exchange timed.
        for observed in [nil, 3.5, 40.0] as [Double?] {
            let (inFlight, remote) = concurrency.afterWalk(observedMicrosPerRequest: observed, peer: true)
            #expect(inFlight == concurrency.ceiling)
            #expect(remote)
        }
    }

    @Test func otherTreesFollowWhatTheWalkObserved() {
        let local = concurrency.afterWalk(observedMicrosPerRequest: 3.5, peer: false)
        #expect(local.inFlight == 4 && !local.remote, "a local disk: --workers")
        let unknown = concurrency.afterWalk(observedMicrosPerRequest: nil, peer: false)
        #expect(unknown.inFlight == 4 && !unknown.remote)
        let nfs = concurrency.afterWalk(observedMicrosPerRequest: 500, peer: false)
        #expect(nfs.inFlight == concurrency.batches(observedMicrosPerRequest: 500) && nfs.inFlight > 4 && nfs.remote, "a far NFS server")
    }
}
