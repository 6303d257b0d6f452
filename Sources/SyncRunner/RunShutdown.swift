public import SyncEngine
import Synchronization

/// The stop request a run obeys, and which signal caused it (for the exit status).
public final class RunShutdown: Sendable {
    /// Polled by the engine, raced against the runner's waits.
    public let stop = StopSignal()
    private let cause = Mutex<ExitStatus?>(nil)

    public init() {}

    /// Records a signal and asks the run to stop. Returns true for the first signal.
    @discardableResult
    public func signal(_ status: ExitStatus, reason: String) -> Bool {
        let first = cause.withLock { current in
            guard current == nil else { return false }
            current = status
            return true
        }
        stop.stop(reason: reason)
        return first
    }

    /// The exit status of the signal that stopped the run, if one did.
    public var signalStatus: ExitStatus? { cause.withLock { $0 } }
}
