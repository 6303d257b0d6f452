public import SyncCore

/// Settings of the dashboard.
public struct DashboardConfiguration: Sendable {
    /// A pair direction whose last successful real run is older than this is shown as stale.
    public var staleAfterSeconds: Int
    /// How often the page refreshes itself.
    public var refreshSeconds: Int
    /// How many recent runs the page lists and charts.
    public var recentRuns: Int
    /// The clock staleness is measured against.
    public var clock: any WallClock
    /// How long one server-sent event stream lasts before the browser reconnects.
    public var eventStreamLifetime: Duration = .seconds(300)

    public init(staleAfterSeconds: Int = 3 * 3600, refreshSeconds: Int = 10, recentRuns: Int = 20, clock: any WallClock = SystemWallClock()) {
        self.staleAfterSeconds = staleAfterSeconds
        self.refreshSeconds = refreshSeconds
        self.recentRuns = recentRuns
        self.clock = clock
    }
}
