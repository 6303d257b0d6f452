import Synchronization

/// A one-way switch that tells a run to stop writing: set on SIGTERM/SIGINT, and (later)
/// when the run lock is lost. Workers poll it between files and between chunks of a copy.
public final class StopSignal: Sendable {
    private let state = Mutex<String?>(nil)

    public init() {}

    /// Requests a stop; the first reason is kept.
    public func stop(reason: String) {
        state.withLock { current in
            if current == nil { current = reason }
        }
    }

    /// Why the run was asked to stop, or `nil`.
    public var reason: String? { state.withLock { $0 } }

    public var isStopped: Bool { reason != nil }
}
