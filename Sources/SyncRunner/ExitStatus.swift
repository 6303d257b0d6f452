/// The exit statuses of `ha-sync`, documented in `docs/cli.md`.
public enum ExitStatus: Int32, Sendable {
    /// Everything synced, or another run holds the pair's lock (not a failure for a CronJob).
    case success = 0
    /// The run could not do its work: a root is missing or unreadable, the lock could not be used.
    case failed = 1
    /// The run finished but some paths failed; they are retried by the next run.
    case partialFailure = 2
    /// A delete guard refused the run; nothing was changed.
    case refused = 3
    /// Invalid command line (the argument parser's usage status).
    case usage = 64
    /// Stopped by SIGINT.
    case interrupted = 130
    /// Stopped by SIGTERM.
    case terminated = 143
}
