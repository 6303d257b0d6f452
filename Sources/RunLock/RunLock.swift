/// Keeps two runs of the same pair from overlapping.
///
/// The file lock implements it for a single host or a shared NFS log directory; the
/// Kubernetes Lease implements it in a cluster. Both directions of a pair share one lock.
public protocol RunLock: Sendable {
    /// Tries to take the lock without waiting.
    func acquire() async throws -> LockAcquisition
}

/// The answer to ``RunLock/acquire()``.
public enum LockAcquisition: Sendable {
    /// This run holds the lock until it calls ``HeldLock/release()``.
    case acquired(any HeldLock)
    /// Another run holds it; `holder` says who, as far as the lock knows.
    case held(holder: String)
}

/// A lock this run holds.
public protocol HeldLock: Sendable {
    /// Keeps the lock for as long as the run goes on (a Lease is renewed), until the task is
    /// cancelled. Calls `onLost` once, with the reason, if the lock is lost: the run must then
    /// stop writing at once.
    func maintain(onLost: @escaping @Sendable (String) -> Void) async

    /// Gives the lock up. Safe to call more than once.
    func release() async
}

extension HeldLock {
    /// Locks that cannot be lost (a file lock, released only by this process) just wait.
    public func maintain(onLost: @escaping @Sendable (String) -> Void) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
    }
}

/// Why a lock could not be used at all (as opposed to being held by another run).
public struct RunLockError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
