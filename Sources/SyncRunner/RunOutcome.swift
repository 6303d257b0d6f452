public import SyncCore
public import SyncEngine

/// How a run ended: the process exit status, and the engine's report when the engine ran.
public struct RunOutcome: Sendable {
    public var status: ExitStatus
    public var report: SyncReport?
    /// The message recorded in the audit trail when the run failed.
    public var message: String?
    /// The filter rules the run used (recorded with the run).
    public var filters = FilterRules()

    public init(status: ExitStatus, report: SyncReport? = nil, message: String? = nil) {
        self.status = status
        self.report = report
        self.message = message
    }
}
