/// How many metadata-bound jobs (directory listings, batches of small files) the engine keeps
/// in flight, decided from the latency it observes rather than from a flag.
///
/// On a local disk a `stat` costs a few microseconds of CPU, and more threads only contend:
/// there the engine keeps `--workers` batches and twice as many listings in flight, and lists
/// a folder's two sides one after the other in one trip to the thread pool. On NFS with a
/// cold attribute cache each request waits a network round trip, and the rate is set by how
/// many wait at once: the limits grow with the observed time per request, so that the CPU,
/// not the wait, bounds the rate, and the two sides are listed at the same time.
/// `--workers` keeps meaning how many large files are copied at once.
public struct MetadataConcurrency: Sendable, Hashable {
    public var workers: Int
    /// The ceiling, whatever the latency.
    public var ceiling: Int
    /// CPU time the engine spends per request it waits for; the wait divided by this is how
    /// many requests it takes to keep a core busy.
    public var cpuMicrosPerRequest: Double
    /// From this time per request on, requests are waits, not work: a network file system.
    public var remoteMicrosPerRequest: Double

    public init(workers: Int, ceiling: Int = 32, cpuMicrosPerRequest: Double = 25, remoteMicrosPerRequest: Double = 100) {
        precondition(workers > 0 && ceiling > 0 && cpuMicrosPerRequest > 0)
        self.workers = workers
        self.ceiling = max(ceiling, 2 * workers)
        self.cpuMicrosPerRequest = cpuMicrosPerRequest
        self.remoteMicrosPerRequest = remoteMicrosPerRequest
    }

    /// Listings in flight for an observed time per request (`nil` before anything was observed).
    public func listings(observedMicrosPerRequest observed: Double?) -> Int {
        scaled(observed, floor: 2 * workers)
    }

    /// Batches of small files in flight.
    public func batches(observedMicrosPerRequest observed: Double?) -> Int {
        scaled(observed, floor: workers)
    }

    /// Batches to a peer that carry data (``peerStreamBytes`` or more) in flight at most (or
    /// `--workers`, if more). Each is a stream that moves its data without waiting on round
    /// trips (the server's 256 KiB stream window carries a folder's batch in a flight or two),
    /// and each holds its buffers. Batches smaller than that (a changed file or two in a
    /// folder) wait on their round trip like a listing, and follow
    /// ``batches(observedMicrosPerRequest:)``.
    public var peerStreams: Int { max(workers, 8) }

    /// From this size on a batch to a peer counts as one of the ``peerStreams``.
    public static let peerStreamBytes: Int64 = 256 << 10

    /// Whether requests wait on a network, so a folder's two sides are worth listing at once.
    public func isRemote(observedMicrosPerRequest observed: Double?) -> Bool {
        guard let observed, observed.isFinite else { return false }
        return observed >= remoteMicrosPerRequest
    }

    private func scaled(_ observed: Double?, floor: Int) -> Int {
        guard let observed, observed.isFinite, observed >= remoteMicrosPerRequest else { return floor }
        let wanted = (observed / cpuMicrosPerRequest).rounded(.up)
        return Int(min(Double(ceiling), max(Double(floor), wanted)))
    }
}

/// A moving average of the time per request, fed with each listing's duration and size.
public struct LatencyEstimate: Sendable, Hashable {
    /// Microseconds per request, or `nil` before the first sample.
    public private(set) var microsPerRequest: Double?
    /// Weight of a new sample.
    public var weight = 0.25

    public init() {}

    /// The estimate, raised to a peer's exchange time when a side is across a network: a peer
    /// lists a whole folder in one exchange, so per entry its listings look local, yet every
    /// listing and batch waits a round trip.
    public func microsPerRequest(peerExchangeMicros peer: Double?) -> Double? {
        guard let peer, peer.isFinite else { return microsPerRequest }
        return max(microsPerRequest ?? peer, peer)
    }

    /// Adds one job that took `nanoseconds` for `requests` requests on one thread.
    public mutating func add(nanoseconds: Int64, requests: Int) {
        guard requests > 0, nanoseconds > 0 else { return }
        let sample = Double(nanoseconds) / 1000 / Double(requests)
        microsPerRequest = microsPerRequest.map { $0 + weight * (sample - $0) } ?? sample
    }
}
