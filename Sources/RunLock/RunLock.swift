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
    /// Gives the lock up. Safe to call more than once.
    func release() async
}

/// Why a lock could not be used at all (as opposed to being held by another run).
public struct RunLockError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
