/// How many metadata-bound jobs (directory listings, batches of small files) the engine keeps
/// in flight, decided from the latency it observes rather than from a flag.
///
/// On a local disk a `stat` costs a few microseconds of CPU, and more threads only contend;
/// on NFS with a cold attribute cache each one waits a network round trip, and the rate is
/// set by how many wait at once. The limit therefore grows with the observed time per
/// request, so that the CPU, not the wait, bounds the rate. `--workers` keeps meaning how
/// many large files are copied at once.
public struct MetadataConcurrency: Sendable, Hashable {
    /// The floor: what the engine always allows (twice `--workers`).
    public var floor: Int
    /// The ceiling, whatever the latency.
    public var ceiling: Int
    /// CPU time the engine spends per request it waits for; the wait divided by this is how
    /// many requests it takes to keep a core busy.
    public var cpuMicrosPerRequest: Double

    public init(workers: Int, ceiling: Int = 32, cpuMicrosPerRequest: Double = 25) {
        precondition(workers > 0 && ceiling > 0 && cpuMicrosPerRequest > 0)
        self.floor = 2 * workers
        self.ceiling = max(ceiling, 2 * workers)
        self.cpuMicrosPerRequest = cpuMicrosPerRequest
    }

    /// The limit for an observed time per request (`nil` before anything was observed).
    public func limit(observedMicrosPerRequest: Double?) -> Int {
        guard let observed = observedMicrosPerRequest, observed.isFinite, observed > 0 else { return floor }
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

    /// Adds one job that took `nanoseconds` for `requests` requests on one thread.
    public mutating func add(nanoseconds: Int64, requests: Int) {
        guard requests > 0, nanoseconds > 0 else { return }
        let sample = Double(nanoseconds) / 1000 / Double(requests)
        microsPerRequest = microsPerRequest.map { $0 + weight * (sample - $0) } ?? sample
    }
}
