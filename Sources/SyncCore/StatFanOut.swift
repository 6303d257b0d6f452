/// How many threads examine a folder's names (one `stat` each), decided from how long the
/// first few took.
///
/// On a local disk a `stat` of a cached inode takes a microsecond or two and one thread is
/// best. On NFS with a cold attribute cache each one waits a round trip, so a folder of
/// thousands of files would otherwise take thousands of round trips one after the other:
/// there its names are split over several threads, each with enough names to be worth
/// starting.
public struct StatFanOut: Sendable, Hashable {
    /// From this time per `stat` on, the calls are waits, not work.
    public var remoteMicrosPerStat: Double
    /// Fewest names worth a thread of their own.
    public var namesPerThread: Int
    /// Most threads for one folder (the engine lists several folders at once).
    public var maximumThreads: Int

    public init(remoteMicrosPerStat: Double = 100, namesPerThread: Int = 24, maximumThreads: Int = 8) {
        precondition(namesPerThread > 0 && maximumThreads > 0)
        self.remoteMicrosPerStat = remoteMicrosPerStat
        self.namesPerThread = namesPerThread
        self.maximumThreads = maximumThreads
    }

    /// The default: the same threshold for "remote" as ``MetadataConcurrency``.
    public static let standard = StatFanOut()

    /// Names to examine one by one before deciding, to measure the time per `stat`.
    public static let probe = 16

    /// Threads for the `remaining` names of a folder, after the probe took `observedMicrosPerStat` each.
    public func threads(remaining: Int, observedMicrosPerStat: Double) -> Int {
        guard observedMicrosPerStat.isFinite, observedMicrosPerStat >= remoteMicrosPerStat, remaining >= 2 * namesPerThread else { return 1 }
        return min(maximumThreads, remaining / namesPerThread)
    }
}
