/// Who holds a pair's Lease and for how long; the timing rules derive from the duration.
public struct LeasePolicy: Sendable, Hashable {
    public var name: String
    public var namespace: String
    /// This run's holder identity, unique per run (``LeaseIdentity``).
    public var identity: String
    /// `leaseDurationSeconds`, from `--lock-ttl`.
    public var durationSeconds: Int
    /// Clocks of different nodes disagree a little: a Lease counts as expired only this long
    /// after `renewTime + leaseDurationSeconds`.
    public var clockSkewSeconds: Int

    public init(name: String, namespace: String, identity: String, durationSeconds: Int, clockSkewSeconds: Int = 5) {
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.durationSeconds = durationSeconds
        self.clockSkewSeconds = clockSkewSeconds
    }

    /// Renew every third of the duration.
    public var renewIntervalSeconds: Int { max(1, durationSeconds / 3) }

    /// Stop writing when no renewal has succeeded for two thirds of the duration: a third of
    /// the duration (plus the skew allowance) before another run could take the Lease over.
    public var renewDeadlineSeconds: Int { max(1, durationSeconds * 2 / 3) }

    /// Wait between attempts after a failed renewal (never past the deadline).
    public var retrySeconds: Int { max(1, min(5, renewIntervalSeconds)) }
}
