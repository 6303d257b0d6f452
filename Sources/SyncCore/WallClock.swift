/// A clock whose instants are wall-clock ``Timestamp``s: what decides Lease expiry, opslog
/// retention, the prune-history cut-off and staleness. Injected, so that tests move time by
/// hand instead of sleeping (see `ManualClock` in the test support).
public protocol WallClock: Clock, Sendable where Instant == Timestamp {}

/// The system's real-time clock (`CLOCK_REALTIME`).
public struct SystemWallClock: WallClock {
    public init() {}

    public var now: Timestamp { Timestamp.now() }

    public var minimumResolution: Duration { .nanoseconds(1) }

    public func sleep(until deadline: Timestamp, tolerance: Duration?) async throws {
        let delay = now.duration(to: deadline)
        if delay > .zero {
            try await Task.sleep(for: delay, tolerance: tolerance)
        } else {
            try Task.checkCancellation()
        }
    }
}

extension Timestamp: InstantProtocol {
    public func advanced(by duration: Duration) -> Timestamp {
        let (seconds, attoseconds) = duration.components
        let total = totalNanoseconds &+ seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
        return Timestamp(totalNanoseconds: total)
    }

    public func duration(to other: Timestamp) -> Duration {
        .nanoseconds(other.nanoseconds(since: self))
    }

    /// A timestamp from nanoseconds since the epoch.
    public init(totalNanoseconds: Int64) {
        var seconds = totalNanoseconds / 1_000_000_000
        var nanoseconds = totalNanoseconds % 1_000_000_000
        if nanoseconds < 0 {
            seconds -= 1
            nanoseconds += 1_000_000_000
        }
        self.init(seconds: seconds, nanoseconds: nanoseconds)
    }
}
