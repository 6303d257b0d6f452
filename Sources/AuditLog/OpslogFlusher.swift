public import Logging
public import SyncCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Moves opslogs into the audit store and deletes them, and applies the opslog retention.
///
/// Flushing is idempotent: the store keys runs by their run id, so an opslog whose commit
/// succeeded but whose removal did not (a crash in between) is recognised on the next try
/// and only removed. Opslogs held by a run in progress (their writer keeps an `flock`) are
/// left alone, whichever pair they belong to.
public struct OpslogFlusher: Sendable {
    public let directory: String
    public let logger: Logger
    /// Operations per batch handed to the store.
    public var batchSize = 1000

    /// Set to `1` in tests to kill the process right after a commit, before the opslog is deleted.
    /// Only debug builds (the ones the tests run) read it: release binaries have no such hook.
    public static let crashAfterCommitVariable = "HA_SYNC_TEST_CRASH_AFTER_COMMIT"

    public init(directory: String, logger: Logger) {
        self.directory = directory
        self.logger = logger
    }

    /// What one flush did.
    public enum Outcome: Sendable, Hashable {
        case stored(iterationID: Int64, operations: Int)
        case alreadyStored(iterationID: Int64)
        /// Another process holds the opslog (a run in progress, or another flusher).
        case busy
    }

    /// The opslogs in the directory, oldest first.
    public func pendingOpslogs() -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if Opslog.isOpslog(name) { names.append(name) }
        }
        return names.sorted { Opslog.sortKey($0) < Opslog.sortKey($1) }.map { path(of: $0) }
    }

    /// Flushes every pending opslog, oldest first. Stops at the first store error (the store is
    /// probably down; the rest waits for the next run) and returns it.
    @discardableResult
    public func flushPending(to store: any AuditStore) async -> (flushed: Int, error: (any Error)?) {
        var flushed = 0
        for path in pendingOpslogs() {
            do {
                switch try await flush(path, to: store) {
                case .stored, .alreadyStored: flushed += 1
                case .busy: continue
                }
            } catch let error as AuditError where error.message.hasPrefix(Self.unreadablePrefix) {
                logger.error("\(error.message); leaving it in place", metadata: ["opslog": "\(path)"])
            } catch {
                return (flushed, error)
            }
        }
        return (flushed, nil)
    }

    static let unreadablePrefix = "unreadable opslog"

    /// Writes one opslog to the store in one transaction, then deletes it.
    public func flush(_ path: String, to store: any AuditStore) async throws -> Outcome {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return .busy }  // flushed by someone else meanwhile
            throw AuditError("\(Self.unreadablePrefix) \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { return .busy }
        // The file may have been flushed and removed between our listing and our lock.
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_nlink > 0 else { return .busy }

        let file: OpslogFile
        do {
            file = try OpslogFile(path: path)
        } catch {
            throw AuditError("\(Self.unreadablePrefix) \(path): \(error)")
        }
        if !file.complete {
            logger.warning(
                "opslog of an interrupted run: recording it as failed", metadata: ["opslog": "\(path)", "run_id": "\(file.iteration.runID)"])
        }
        let reader = try file.batchReader(size: batchSize)
        let outcome = try await store.store(file.iteration) { try reader.next() }
        if reader.damagedLines > 0 {
            logger.warning("opslog had unreadable lines; they were skipped", metadata: ["opslog": "\(path)", "lines": "\(reader.damagedLines)"])
        }
        try Self.removeStored(path)
        switch outcome {
        case .stored(let id):
            logger.info("audit flushed", metadata: ["opslog": "\(path)", "iteration_id": "\(id)", "operations": "\(file.operationCount)"])
            return .stored(iterationID: id, operations: file.operationCount)
        case .alreadyStored(let id):
            logger.info("opslog was already in the audit store; removed it", metadata: ["opslog": "\(path)", "iteration_id": "\(id)"])
            return .alreadyStored(iterationID: id)
        }
    }

    /// Completes a run whose operations reached the store while it ran (``LiveAuditFeed``):
    /// stores `remainder` (the operations not stored yet) and the run's final row in one
    /// transaction, then deletes its opslog without reading it back.
    public func complete(_ path: String, iteration: IterationRecord, remainder: [OperationRecord], in store: any AuditStore) async throws {
        var batch: [OperationRecord]? = remainder
        let outcome = try await store.store(iteration) {
            defer { batch = nil }
            return batch
        }
        try Self.removeStored(path)
        if case .stored(let id) = outcome {
            logger.info("audit recorded", metadata: ["opslog": "\(path)", "iteration_id": "\(id)", "operations_at_the_end": "\(remainder.count)"])
        }
    }

    /// Deletes an opslog whose run is in the store. A failure is harmless beyond the message:
    /// the next flush finds the run stored and only deletes the file.
    static func removeStored(_ path: String) throws {
        crashPointAfterCommit()
        guard unlink(path) == 0 || errno == ENOENT else {
            throw AuditError(
                "stored opslog \(path) but cannot delete it: \(String(cString: strerror(errno))); the next run will see it is already stored")
        }
    }

    /// The tests' fault point between a commit and the opslog's removal (debug builds only).
    static func crashPointAfterCommit() {
        #if HA_SYNC_TEST_HOOKS
        if ProcessInfo.environmentValue(Self.crashAfterCommitVariable) == "1" {
            raise(SIGKILL)
        }
        #endif
    }

    /// Deletes opslogs whose last change is older than `days` days (unflushed ones: the store
    /// was unreachable for that long). Returns their paths.
    @discardableResult
    public func removeExpired(olderThanDays days: Int, now: Timestamp) -> [String] {
        let cutoff = now.seconds - Int64(days) * 86_400
        var removed: [String] = []
        for path in pendingOpslogs() {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { continue }
            defer { close(descriptor) }
            var info = stat()
            guard fstat(descriptor, &info) == 0, Int64(info.st_mtim.tv_sec) < cutoff, flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { continue }
            if unlink(path) == 0 {
                removed.append(path)
                logger.warning("deleted an opslog older than \(days) days that was never flushed", metadata: ["opslog": "\(path)"])
            }
        }
        return removed
    }

    private func path(of name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

enum ProcessInfo {
    static func environmentValue(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
