import NIOPosix
import Synchronization

/// The I/O thread pools the engine's blocking calls run on.
///
/// A narrow pool (three times `--workers` threads) serves a local disk. A wide one, for the
/// many requests in flight that a network file system needs, is started only the first time
/// a job asks for it: starting dozens of threads costs a no-change local run several percent.
final class NIOThreadPoolBox: Sendable {
    private let narrow: NIOThreadPool
    private let wideThreads: Int
    private let wide = Mutex<NIOThreadPool?>(nil)

    init(threads: Int, wideThreads: Int) {
        narrow = NIOThreadPool(numberOfThreads: threads)
        narrow.start()
        self.wideThreads = wideThreads
    }

    /// Runs `body` on the narrow pool, or on the wide one when `wide` is set.
    func run<T: Sendable>(wide useWide: Bool = false, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        guard useWide else { return try await narrow.runIfActive(body) }
        let pool = wide.withLock { pool in
            if let pool { return pool }
            let started = NIOThreadPool(numberOfThreads: wideThreads)
            started.start()
            pool = started
            return started
        }
        return try await pool.runIfActive(body)
    }

    func shutdown() async {
        try? await narrow.shutdownGracefully()
        if let pool = wide.withLock({ $0 }) {
            try? await pool.shutdownGracefully()
        }
    }
}
