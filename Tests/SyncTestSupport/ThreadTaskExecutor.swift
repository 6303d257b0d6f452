import Foundation
import Synchronization

/// A task executor with an OS thread of its own, for test servers (the fake Kubernetes API)
/// whose answers must not wait for Swift's task pool: it has one thread per core, and the
/// CPU-heavy tests running beside can hold them all for seconds. The thread stays for the
/// life of the test process, idle once its server stopped (a late job must never be lost).
public final class ThreadTaskExecutor: TaskExecutor, Sendable {
    private let jobs = Mutex<[UnownedJob]>([])
    private let ready = DispatchSemaphore(value: 0)

    /// Starts the executor's thread, named `name`.
    public init(name: String) {
        let thread = Thread { [self] in self.serve() }
        thread.name = name
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobs.withLock { $0.append(job) }
        ready.signal()
    }

    private func serve() -> Never {
        while true {
            ready.wait()
            let queued = jobs.withLock { jobs in
                defer { jobs.removeAll(keepingCapacity: true) }
                return jobs
            }
            for job in queued { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}
