import NIOConcurrencyHelpers
public import SyncCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Appends a run's operations to its opslog as they complete.
///
/// Each line goes to the file in a single `write`, so a crash leaves at most one torn last
/// line. The file is held with `flock` until ``finish(_:)``: a flusher of another pair's run
/// sees the lock and leaves a run in progress alone. Write errors (a full log volume) never
/// stop the sync: the first one is reported by ``writeError`` and the opslog is then
/// incomplete, which its missing footer shows.
public final class OpslogWriter: Sendable {
    public let path: String
    private struct State {
        var descriptor: Int32?
        var sequence = 0
        var digest = PlanDigest()
        var writeError: String?
        /// Sees each operation after its line is written (the live feed).
        var tap: (@Sendable (OperationRecord) -> Void)?
    }
    /// A lock that sleeps rather than spins: its holder encodes and writes a line, and every
    /// I/O thread appends; `Mutex`'s spinning waiters took a fifth of the client's CPU on two
    /// cores for a run of 20,000 new files.
    private let state: NIOLockedValueBox<State>
    private let dryRun: Bool

    private init(path: String, descriptor: Int32, dryRun: Bool) {
        self.path = path
        self.dryRun = dryRun
        self.state = NIOLockedValueBox(State(descriptor: descriptor))
    }

    /// Creates the opslog of `iteration` in `directory` and writes its header.
    public static func create(in directory: String, for iteration: IterationRecord) throws -> OpslogWriter {
        let name = Opslog.fileName(pair: iteration.pair, direction: iteration.direction, startedAt: iteration.startedAt)
        let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw AuditError("cannot create opslog \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw AuditError("cannot lock opslog \(path): \(String(cString: strerror(errno)))")
        }
        let writer = OpslogWriter(path: path, descriptor: descriptor, dryRun: iteration.dryRun)
        try writer.writeLine(Opslog.headerLine(iteration))
        return writer
    }

    /// Appends one finished operation; results that are not operations (skips) are ignored.
    public func append(_ result: OperationResult) {
        state.withLockedValue { state in
            guard let record = OperationRecord(result, sequence: state.sequence + 1, dryRun: dryRun) else { return }
            state.sequence += 1
            // Only a dry run is compared with an earlier plan.
            if dryRun { state.digest.add(record.planKey) }
            Self.write(Opslog.operationLine(record), to: &state)
            state.tap?(record)
        }
    }

    /// Hands every operation appended from now on to `tap`, in sequence order, once its line
    /// is written.
    public func setTap(_ tap: @escaping @Sendable (OperationRecord) -> Void) {
        state.withLockedValue { $0.tap = tap }
    }

    /// Operations written so far.
    public var operationCount: Int { state.withLockedValue { $0.sequence } }

    /// The fingerprint of the operations written so far (for the dry-run idempotency check;
    /// kept for dry runs only).
    public var digest: PlanDigest { state.withLockedValue { $0.digest } }

    /// The first write error, if any.
    public var writeError: String? { state.withLockedValue { $0.writeError } }

    /// Writes the footer, syncs the file to disk and releases it.
    public func finish(_ iteration: IterationRecord) throws {
        try state.withLockedValue { state in
            Self.write(Opslog.footerLine(iteration, operations: state.sequence), to: &state)
            guard let descriptor = state.descriptor else { return }
            let synced = fsync(descriptor) == 0
            let syncError = errno
            Self.release(descriptor)
            state.descriptor = nil
            if !synced && state.writeError == nil { state.writeError = "fsync: \(String(cString: strerror(syncError)))" }
            if let error = state.writeError { throw AuditError("the opslog \(path) is incomplete (\(error))") }
        }
    }

    /// Closes without a footer (the run is abandoned; the flusher records it as interrupted).
    public func abandon() {
        state.withLockedValue { state in
            if let descriptor = state.descriptor { Self.release(descriptor) }
            state.descriptor = nil
        }
    }

    deinit {
        state.withLockedValue { state in
            if let descriptor = state.descriptor { Self.release(descriptor) }
        }
    }

    /// Unlocks before closing: a child forked by another thread shares the lock until it execs,
    /// and only an explicit unlock releases it for every holder of the open file at once.
    private static func release(_ descriptor: Int32) {
        _ = flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    private func writeLine(_ bytes: [UInt8]) throws {
        try state.withLockedValue { state in
            Self.write(bytes, to: &state)
            if let error = state.writeError { throw AuditError("cannot write opslog \(path): \(error)") }
        }
    }

    private static func write(_ bytes: [UInt8], to state: inout State) {
        guard let descriptor = state.descriptor, state.writeError == nil else { return }
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        if written != bytes.count {
            state.writeError = written < 0 ? String(cString: strerror(errno)) : "short write"
        }
    }
}

/// A problem with the audit trail, with a message for the user. Never contains a password.
public struct AuditError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
