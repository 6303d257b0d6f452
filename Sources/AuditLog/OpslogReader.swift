import SyncCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A finished or abandoned opslog, read back for flushing.
public struct OpslogFile: Sendable {
    public var path: String
    /// The run, with the footer's status and counters, or `failed` when the run left no footer.
    public var iteration: IterationRecord
    /// Whether the run wrote its footer.
    public var complete: Bool
    /// Operation lines, from the footer (or counted, for an opslog without one).
    public var operationCount: Int

    /// Reads the header (first line) and the footer (last complete line). Only an opslog
    /// without a footer is read through, to count what its run did.
    public init(path: String) throws {
        self.path = path
        let lines = try OpslogLineReader(path: path)
        guard let first = try lines.next(), let header = FlatJSON.parse(first), header["type"]?.string == "header",
            let runID = header["run_id"]?.string
        else {
            throw AuditError("opslog \(path) has no header line; it cannot be flushed")
        }
        var iteration = IterationRecord(
            runID: runID,
            pair: header["pair"]?.string ?? "",
            direction: header["direction"]?.string ?? "",
            source: header["src"]?.string ?? "",
            destination: header["dest"]?.string ?? "",
            startedAt: Timestamp(nanoseconds: header["started_at_ns"]?.integer ?? 0),
            dryRun: header["dry_run"]?.bool ?? false)
        iteration.fanOutID = header["fan_out_id"]?.string
        if let footer = try Self.footer(path: path) {
            iteration.status = IterationRecord.Status(rawValue: footer["status"]?.string ?? "") ?? .failed
            iteration.endedAt = footer["ended_at_ns"]?.integer.map { Timestamp(nanoseconds: $0) }
            iteration.filesCreated = Int(footer["files_created"]?.integer ?? 0)
            iteration.filesUpdated = Int(footer["files_updated"]?.integer ?? 0)
            iteration.filesDeleted = Int(footer["files_deleted"]?.integer ?? 0)
            iteration.filesSkipped = Int(footer["files_skipped"]?.integer ?? 0)
            iteration.filesFailed = Int(footer["files_failed"]?.integer ?? 0)
            iteration.conflicts = Int(footer["files_conflicted"]?.integer ?? 0)
            iteration.versionsKept = Int(footer["versions_kept"]?.integer ?? 0)
            iteration.versionsPruned = Int(footer["versions_pruned"]?.integer ?? 0)
            iteration.versionStoreFiles = Int(footer["version_store_files"]?.integer ?? 0)
            iteration.versionStoreBytes = footer["version_store_bytes"]?.integer ?? 0
            iteration.filterFingerprint = footer["filter_fingerprint"]?.string
            iteration.filterRules = footer["filter_rules"]?.string
            iteration.bytesTransferred = footer["total_bytes_transferred"]?.integer ?? 0
            iteration.errorMessage = footer["error_message"]?.string
            operationCount = Int(footer["operations"]?.integer ?? 0)
            complete = true
        } else {
            var operations = 0
            while let line = try lines.next() {
                if FlatJSON.parse(line)?["type"]?.string == "op" { operations += 1 }
            }
            iteration.status = .failed
            iteration.errorMessage = "the run was interrupted (killed or crashed) before it finished; \(operations) operations were logged"
            operationCount = operations
            complete = false
        }
        self.iteration = iteration
    }

    /// The last complete line, when it is a footer. Reads only the end of the file.
    private static func footer(path: String) throws -> [String: FlatJSON.Value]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw AuditError("cannot read opslog \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let size = lseek(descriptor, 0, SEEK_END)
        guard size > 0 else { return nil }
        let length = Int(min(size, 65_536))
        var tail = [UInt8](repeating: 0, count: length)
        let count = tail.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, length, off_t(size) - off_t(length)) }
        guard count == length, tail.last == UInt8(ascii: "\n") else { return nil }  // a torn last line: no footer
        let body = tail.dropLast()
        let start = (body.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? body.startIndex
        guard let object = FlatJSON.parse(body[start...]), object["type"]?.string == "footer" else { return nil }
        return object
    }

    /// Streams the operations in batches of at most `size`.
    public func forEachBatch(size: Int, _ body: ([OperationRecord]) throws -> Void) throws {
        let reader = try batchReader(size: size)
        while let batch = try reader.next() { try body(batch) }
    }

    /// A reader that hands out the operations in batches of at most `size`, for ``AuditStore/store(_:nextBatch:)``.
    public func batchReader(size: Int) throws -> OperationBatchReader {
        OperationBatchReader(lines: try OpslogLineReader(path: path), size: size)
    }

    /// All operations, for small opslogs and tests.
    public func operations() throws -> [OperationRecord] {
        var all: [OperationRecord] = []
        try forEachBatch(size: 1024) { all.append(contentsOf: $0) }
        return all
    }

    static func operation(_ object: [String: FlatJSON.Value]) -> OperationRecord? {
        guard let sequence = object["seq"]?.integer,
            let operation = Operation(rawValue: object["operation"]?.string ?? ""),
            let filepath = object["filepath"]?.string,
            let started = object["started_at_ns"]?.integer
        else { return nil }
        return OperationRecord(
            sequence: Int(sequence), operation: operation, filepath: filepath,
            // Opslogs of earlier versions have no flag: they always escaped.
            filepathEscaped: object["filepath_escaped"]?.bool ?? true,
            sizeBefore: object["size_before"]?.integer,
            sizeAfter: object["size_after"]?.integer,
            md5Before: object["md5_before"]?.string,
            md5After: object["md5_after"]?.string,
            startedAt: Timestamp(nanoseconds: started),
            endedAt: object["ended_at_ns"]?.integer.map { Timestamp(nanoseconds: $0) },
            succeeded: object["status"]?.string != "fail",
            errorMessage: object["error_message"]?.string,
            dryRun: object["dry_run"]?.bool ?? false,
            direction: object["direction"]?.string,
            conflict: object["conflict"]?.bool ?? false)
    }
}

/// Hands out an opslog's operations in batches.
public final class OperationBatchReader {
    private let lines: OpslogLineReader
    private let size: Int
    /// Lines that were neither the header, an operation nor the footer (a torn last line is not counted).
    public private(set) var damagedLines = 0

    init(lines: OpslogLineReader, size: Int) {
        self.lines = lines
        self.size = size
    }

    /// The next batch, or `nil` at the end.
    public func next() throws -> [OperationRecord]? {
        var batch: [OperationRecord] = []
        batch.reserveCapacity(size)
        while batch.count < size, let line = try lines.next() {
            guard let object = FlatJSON.parse(line) else {
                damagedLines += 1
                continue
            }
            switch object["type"]?.string {
            case "op":
                if let record = OpslogFile.operation(object) { batch.append(record) } else { damagedLines += 1 }
            case "header", "footer":
                continue
            default:
                damagedLines += 1
            }
        }
        return batch.isEmpty ? nil : batch
    }
}

/// Reads an opslog line by line in 1 MiB chunks. A last line without a newline is a torn
/// write from a crash and is never returned.
final class OpslogLineReader {
    private let path: String
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var finished = false

    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw AuditError("cannot read opslog \(path): \(String(cString: strerror(errno)))") }
    }

    deinit {
        close(descriptor)
    }

    /// The next complete, non-empty line without its newline, or `nil` at the end.
    func next() throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[start..<newline]
                start = newline + 1
                if line.isEmpty { continue }
                return line
            }
            if finished { return nil }
            buffer.removeSubrange(..<start)
            start = 0
            let previous = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: 1 << 20))
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + previous, 1 << 20) }
            buffer.removeSubrange((previous + max(count, 0))...)
            if count < 0 {
                if errno == EINTR { continue }
                throw AuditError("cannot read opslog \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { finished = true }
        }
    }
}
