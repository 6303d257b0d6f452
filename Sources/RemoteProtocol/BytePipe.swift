import DequeModule
import Foundation
public import NIOCore

/// A bounded queue of byte chunks between a thread that blocks (the engine's I/O threads,
/// which read and write files) and the network side: a task that awaits (the server's
/// HTTP/2 streams) or an event loop (the HTTP client's callbacks).
///
/// ``put(_:)`` and ``take()`` block the calling thread; ``send(_:)`` and ``receive()``
/// suspend the calling task; ``offer(_:on:)`` and ``next(on:)`` return futures. Memory is
/// bounded by `limit` bytes plus one chunk. Failing the pipe wakes both ends.
public final class BytePipe: @unchecked Sendable {
    private let condition = NSCondition()
    private var chunks = Deque<ByteBuffer>()
    private var queuedBytes = 0
    private var finished = false
    private var failure: (any Error)?
    /// Callbacks to run (outside the lock) at the next change of state.
    private var waiters: [@Sendable () -> Void] = []
    private let limit: Int

    public init(limit: Int = 4 << 20) {
        self.limit = limit
    }

    private var hasRoom: Bool { queuedBytes < limit }
    private var hasData: Bool { !chunks.isEmpty || finished }

    // MARK: Producers

    /// Adds a chunk, blocking while the pipe is full. Throws once the pipe failed.
    public func put(_ chunk: ByteBuffer) throws {
        try change {
            while !hasRoom && failure == nil { condition.wait() }
            if let failure { throw failure }
            append(chunk)
        }
    }

    /// Adds a chunk, suspending while the pipe is full. Throws once the pipe failed.
    public func send(_ chunk: ByteBuffer) async throws {
        while true {
            let ready = locked { failure != nil || hasRoom }
            if ready { break }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = locked {
                    if failure != nil || hasRoom { return true }
                    waiters.append { continuation.resume() }
                    return false
                }
                if now { continuation.resume() }
            }
        }
        try change {
            if let failure { throw failure }
            append(chunk)
        }
    }

    /// Adds a chunk at once; the future completes when the pipe has room again, the
    /// backpressure an HTTP client's body callbacks expect.
    public func offer(_ chunk: ByteBuffer, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        change {
            if let failure {
                promise.fail(failure)
                return
            }
            append(chunk)
        }
        whenRoom(promise)
        return promise.futureResult
    }

    private func whenRoom(_ promise: EventLoopPromise<Void>) {
        let state: Result<Bool, any Error> = locked {
            if let failure { return .failure(failure) }
            if hasRoom || finished { return .success(true) }
            waiters.append { [self] in whenRoom(promise) }
            return .success(false)
        }
        switch state {
        case .failure(let error): promise.fail(error)
        case .success(true): promise.succeed()
        case .success(false): break
        }
    }

    /// No more chunks: the consumer sees the end after the queued ones.
    public func finish() {
        change { finished = true }
    }

    /// Stops both ends with `error`: the consumer sees it at once, as do producers.
    public func fail(_ error: any Error) {
        change {
            if failure == nil { failure = error }
        }
    }

    // MARK: Consumers

    /// The next chunk, blocking until one arrives; `nil` at the end.
    public func take() throws -> ByteBuffer? {
        try change {
            while !hasData && failure == nil { condition.wait() }
            if let failure { throw failure }
            return popFirst()
        }
    }

    /// The next chunk, suspending until one arrives; `nil` at the end.
    public func receive() async throws -> ByteBuffer? {
        while true {
            let ready = locked { failure != nil || hasData }
            if ready {
                return try change {
                    if let failure { throw failure }
                    return popFirst()
                }
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = locked {
                    if failure != nil || hasData { return true }
                    waiters.append { continuation.resume() }
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    /// The next chunk, `nil` at the end, as a future.
    public func next(on eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer?> {
        let promise = eventLoop.makePromise(of: ByteBuffer?.self)
        whenData(promise)
        return promise.futureResult
    }

    private func whenData(_ promise: EventLoopPromise<ByteBuffer?>) {
        let ready: Result<Bool, any Error> = locked {
            if let failure { return .failure(failure) }
            if hasData { return .success(true) }
            waiters.append { [self] in whenData(promise) }
            return .success(false)
        }
        switch ready {
        case .failure(let error): promise.fail(error)
        case .success(false): break
        case .success(true):
            // One consumer: what was there is still there, unless the pipe failed meanwhile.
            do {
                promise.succeed(
                    try change {
                        if let failure { throw failure }
                        return popFirst()
                    })
            } catch {
                promise.fail(error)
            }
        }
    }

    // MARK: Private

    private func append(_ chunk: ByteBuffer) {
        queuedBytes += chunk.readableBytes
        chunks.append(chunk)
    }

    private func popFirst() -> ByteBuffer? {
        guard let chunk = chunks.popFirst() else { return nil }
        queuedBytes -= chunk.readableBytes
        return chunk
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    /// Runs `body` under the lock as a change of state: wakes blocked threads, and runs the
    /// waiting callbacks after unlocking (they take the lock themselves).
    private func change<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        let result: T
        do {
            result = try body()
        } catch {
            let woken = takeWaiters()
            condition.unlock()
            for waiter in woken { waiter() }
            throw error
        }
        let woken = takeWaiters()
        condition.unlock()
        for waiter in woken { waiter() }
        return result
    }

    private func takeWaiters() -> [@Sendable () -> Void] {
        condition.broadcast()
        let woken = waiters
        waiters.removeAll()
        return woken
    }
}

extension BytePipe: AsyncSequence {
    public typealias Element = ByteBuffer

    public struct AsyncIterator: AsyncIteratorProtocol {
        let pipe: BytePipe

        public mutating func next() async throws -> ByteBuffer? {
            try await pipe.receive()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(pipe: self)
    }
}
