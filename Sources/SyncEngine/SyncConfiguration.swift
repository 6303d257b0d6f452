public import SyncCore
public import SyncTrees

/// How one run behaves.
public struct SyncConfiguration: Sendable {
    /// The mode's decision step: ``ComparisonRules`` for a one-way run.
    public var reconciler: any Reconciler
    public var deleteGuard: DeleteGuard
    /// Files copied, hashed or deleted at the same time; twice as many directories may be listed at once.
    public var workers: Int
    /// Compute and report the plan without changing anything.
    public var dryRun: Bool
    public var copyOptions: CopyOptions
    /// How many listings and small-file batches may be in flight, by observed latency.
    public var metadataConcurrency: MetadataConcurrency
    /// Keep what a sync replaces or deletes in the side's `.ha-sync-versions/`; `nil`: off.
    public var versions: VersionSettings?
    /// What the run leaves out (`--exclude`, `--include`, `--filter-from`, `.ha-sync-ignore`).
    public var filters = FilterRules()
    /// `--publish-after`, `--publish-last`: files that announce others are put in place after them.
    public var publication = PublicationRules()
    /// `--delay-updates`: every copy waits under a temporary name, and all are renamed into
    /// place together at the end of the run.
    public var delayUpdates = false
    /// Source files modified after this time are left for a later run (`--min-age`); `nil`: none are.
    public var minAgeCutoff: Timestamp?

    public init(
        reconciler: any Reconciler = ComparisonRules(),
        deleteGuard: DeleteGuard = DeleteGuard(),
        workers: Int = 4,
        dryRun: Bool = false,
        copyOptions: CopyOptions = CopyOptions(),
        metadataConcurrency: MetadataConcurrency? = nil
    ) {
        precondition(workers > 0, "at least one worker")
        self.reconciler = reconciler
        self.deleteGuard = deleteGuard
        self.workers = workers
        self.dryRun = dryRun
        self.copyOptions = copyOptions
        self.metadataConcurrency = metadataConcurrency ?? MetadataConcurrency(workers: workers)
    }
}
