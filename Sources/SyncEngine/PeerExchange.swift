import SyncCore
import SyncTrees

/// The slower of the sides' exchange times, for those across a network (`nil` if none is).
func peerExchangeMicros(_ trees: any SyncTree...) -> Double? {
    trees.compactMap(\.exchangeMicros).max()
}

extension MetadataConcurrency {
    /// Operations in flight after a walk (deletes, a planned run's changes), and whether they
    /// wait on the network (the wide pool). A peer's operations wait on its round trips however
    /// fast its listings looked: a walk streams them, and a run that changes little may not
    /// have timed a single exchange.
    func afterWalk(observedMicrosPerRequest observed: Double?, peer: Bool) -> (inFlight: Int, remote: Bool) {
        peer ? (ceiling, true) : (batches(observedMicrosPerRequest: observed), isRemote(observedMicrosPerRequest: observed))
    }
}
