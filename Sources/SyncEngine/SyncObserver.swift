public import SyncCore

/// Receives each operation as the engine finishes it: the CLI prints them, the audit
/// trail writes them to its opslog. Called as soon as each operation completes, from the
/// I/O threads, so implementations must be thread-safe; calls for one path never repeat.
public protocol SyncObserver: Sendable {
    /// A create, update or delete finished (or, in a dry run, was planned).
    func operationFinished(_ result: OperationResult)
    /// A path was left alone for a reason worth showing with `--verbose` (not "in sync").
    func skipped(_ path: RelativePath, reason: SkipReason)
}

/// An observer that ignores everything.
public struct NullObserver: SyncObserver {
    public init() {}
    public func operationFinished(_ result: OperationResult) {}
    public func skipped(_ path: RelativePath, reason: SkipReason) {}
}
