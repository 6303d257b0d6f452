public import Foundation

/// Blocking work (waiting for a child process, a synchronous client) moved off Swift's task pool.
public enum OffThePool {
    /// Runs `body` on a new OS thread and returns its result.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Waits for `process` to exit without holding a pool thread.
    public static func waitForExit(_ process: Process) async {
        let process = UncheckedProcess(process)
        _ = try? await run { process.value.waitUntilExit() }
    }

    /// Calls `then` on a thread of its own once `process` has exited, without waiting here
    /// (for a `deinit`, which may run on the pool and cannot await).
    public static func whenExited(_ process: Process, then: @escaping @Sendable () -> Void) {
        let process = UncheckedProcess(process)
        Thread.detachNewThread {
            process.value.waitUntilExit()
            then()
        }
    }
}

/// `Process` is thread-safe for waiting but not marked `Sendable`.
private struct UncheckedProcess: @unchecked Sendable {
    let value: Process
    init(_ value: Process) { self.value = value }
}
