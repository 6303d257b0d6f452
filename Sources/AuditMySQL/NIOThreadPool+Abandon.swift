import NIOPosix
import Synchronization

extension NIOThreadPool {
    /// Runs blocking `body` on the pool. If the calling task is cancelled first, returns at
    /// once with `CancellationError` and leaves `body` to finish on its thread; its result is
    /// then handed to `discard`.
    ///
    /// A MariaDB call cannot be interrupted, and a frozen server holds it until the socket
    /// times out; a SIGTERM must not wait that long.
    func runAbandoningOnCancel<T: Sendable>(
        _ body: @escaping @Sendable () throws -> T,
        discard: @escaping @Sendable (T) -> Void = { _ in }
    ) async throws -> T {
        let waiting = Mutex<(continuation: CheckedContinuation<T, any Error>?, cancelled: Bool)>((nil, false))
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let cancelled = waiting.withLock { state in
                    if !state.cancelled { state.continuation = continuation }
                    return state.cancelled
                }
                if cancelled {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                self.submit { workState in
                    let result: Result<T, any Error> =
                        workState == .active ? Result { try body() } : .failure(CancellationError())
                    let continuation = waiting.withLock { state in
                        defer { state.continuation = nil }
                        return state.continuation
                    }
                    if let continuation {
                        continuation.resume(with: result)
                    } else if case .success(let value) = result {
                        discard(value)
                    }
                }
            }
        } onCancel: {
            let continuation = waiting.withLock { state in
                state.cancelled = true
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }
}
