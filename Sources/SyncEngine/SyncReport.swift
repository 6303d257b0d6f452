public import SyncCore

/// The outcome of one run.
public struct SyncReport: Sendable {
    public enum Status: String, Sendable, Hashable, Codable {
        case success
        /// The run finished but some paths failed.
        case partialFailure = "partial_failure"
        /// The run could not do its work (refused by a guard, interrupted, root unreadable).
        case failed
    }

    public var summary = SyncSummary()
    /// Whether any part of the source could not be listed (deletes are then withheld).
    public var sourceWalkFailed = false
    /// Deletes planned but not carried out because the source walk failed.
    public var deletesWithheld = 0
    /// Set when a delete guard refused the run; nothing was changed.
    public var refusal: DeleteGuard.Verdict?
    /// Set when the run was stopped before it finished.
    public var interruption: String?
    /// Temporary files of killed runs removed from the destination.
    public var temporaryFilesRemoved = 0
    public var durationNanoseconds: Int64 = 0

    public init() {}

    public var status: Status {
        if refusal != nil || interruption != nil { return .failed }
        if summary.failed > 0 || sourceWalkFailed { return .partialFailure }
        return .success
    }

    /// One line for the user when the run failed as a whole.
    public var failureMessage: String? {
        if let message = refusal?.message { return message }
        if let interruption { return "run stopped: \(interruption); unfinished work is retried by the next run" }
        return nil
    }
}
