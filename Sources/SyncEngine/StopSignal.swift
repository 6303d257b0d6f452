import Synchronization

/// A one-way switch that tells a run to stop writing: set on SIGTERM/SIGINT, and when the
/// run lock is lost. Workers poll it between files and between chunks of a copy; the
/// runner's waits (for the lock, the audit store) are raced against ``wait()``.
public final class StopSignal: Sendable {
    private struct State {
        var reason: String?
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())
    /// Set with `reason`: workers poll ``isStopped`` between every chunk of every copy, from
    /// many threads at once, and a lock there was contended enough to show in profiles.
    private let stopped = Atomic<Bool>(false)

    public init() {}

    /// Requests a stop; the first reason is kept.
    public func stop(reason: String) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.reason == nil else { return [] }
            state.reason = reason
            stopped.store(true, ordering: .releasing)
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Why the run was asked to stop, or `nil`.
    public var reason: String? { state.withLock { $0.reason } }

    public var isStopped: Bool { stopped.load(ordering: .acquiring) }

    /// Returns once a stop is requested, or when the calling task is cancelled, so it can be
    /// raced against other work in a task group.
    public func wait() async {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.reason != nil || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Runs `operation` unless a stop comes first: then `operation` is cancelled and `nil`
    /// returned. `operation` must end promptly when cancelled. A result that `operation`
    /// produced anyway (it finished as the stop came) goes to `discard`, so nothing it
    /// acquired is leaked.
    public func unlessStopped<T: Sendable>(
        _ operation: @escaping @Sendable () async throws -> T,
        discard: @escaping @Sendable (T) async -> Void = { _ in }
    ) async throws -> T? {
        if isStopped { return nil }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                await self.wait()
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            // The other child ends promptly once cancelled; a late value is still accounted for.
            let second = try? await group.next()
            let result = first ?? (second ?? nil)
            if let result, isStopped {
                await discard(result)
                return nil
            }
            return result
        }
    }
}
