public import SyncCore
public import SyncEngine

/// Where a run tells its user what happens: the command line prints it, tests record it.
public protocol RunReporter: Sendable {
    /// Receives each operation as it finishes (the plan, in a dry run) and notable skips.
    var observer: any SyncObserver { get }

    /// Another run holds the pair's lock; this one does nothing.
    func lockHeld(pair: String, holder: String)

    /// A dry run planned exactly what the last recorded one did.
    func dryRunAlreadyCurrent(since: Timestamp)

    /// The run failed before or instead of producing a report.
    func runFailed(_ message: String)

    /// The run's result.
    func finished(_ report: SyncReport)

    /// How far the run is; called every few seconds while it works.
    func progress(_ snapshot: SyncProgress.Snapshot, elapsed: Duration)

    /// The run stopped reporting progress (clears a live progress line).
    func progressEnded()

    /// The reporter for one destination of a fan-out run (its operations and summary).
    func forDestination(_ destination: String, direction: String) -> any RunReporter

    /// A fan-out run ended: how each destination did.
    func fanOutFinished(_ results: [FanOutResult])
}

extension RunReporter {
    public func forDestination(_ destination: String, direction: String) -> any RunReporter { self }
    public func fanOutFinished(_ results: [FanOutResult]) {}
}
