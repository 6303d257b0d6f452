import SyncTrees

/// The slower of the sides' exchange times, for those across a network (`nil` if none is).
func peerExchangeMicros(_ trees: any SyncTree...) -> Double? {
    trees.compactMap(\.exchangeMicros).max()
}
