public import SyncCore
public import SyncFileSystem

/// How one run behaves.
public struct SyncConfiguration: Sendable {
    public var rules: ComparisonRules
    public var deleteGuard: DeleteGuard
    /// Files copied, hashed or deleted at the same time; twice as many directories may be listed at once.
    public var workers: Int
    /// Compute and report the plan without changing anything.
    public var dryRun: Bool
    public var copyOptions: CopyOptions

    public init(
        rules: ComparisonRules = ComparisonRules(),
        deleteGuard: DeleteGuard = DeleteGuard(),
        workers: Int = 4,
        dryRun: Bool = false,
        copyOptions: CopyOptions = CopyOptions()
    ) {
        precondition(workers > 0, "at least one worker")
        self.rules = rules
        self.deleteGuard = deleteGuard
        self.workers = workers
        self.dryRun = dryRun
        self.copyOptions = copyOptions
    }
}
