import Foundation
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
    /// Operation lines found.
    public var operationCount: Int
    /// Lines that could not be read (a torn last line is not counted: it is expected after a crash).
    public var damagedLines: Int

    /// Reads the header and footer and counts the operations, in constant memory.
    public init(path: String) throws {
        self.path = path
        var header: [String: Any]?
        var footer: [String: Any]?
        var operations = 0
        var damaged = 0
        try OpslogLines.forEach(path: path) { object, _ in
            guard let object else {
                damaged += 1
                return
            }
            switch object["type"] as? String {
            case "header": header = object
            case "op": operations += 1
            case "footer": footer = object
            default: damaged += 1
            }
        }
        guard let header, let runID = header["run_id"] as? String else {
            throw AuditError("opslog \(path) has no header line; it cannot be flushed")
        }
        var iteration = IterationRecord(
            runID: runID,
            pair: header["pair"] as? String ?? "",
            direction: header["direction"] as? String ?? "",
            source: header["src"] as? String ?? "",
            destination: header["dest"] as? String ?? "",
            startedAt: Timestamp(nanoseconds: (header["started_at_ns"] as? NSNumber)?.int64Value ?? 0),
            dryRun: header["dry_run"] as? Bool ?? false)
        if let footer {
            iteration.status = IterationRecord.Status(rawValue: footer["status"] as? String ?? "") ?? .failed
            iteration.endedAt = (footer["ended_at_ns"] as? NSNumber).map { Timestamp(nanoseconds: $0.int64Value) }
            iteration.filesCreated = (footer["files_created"] as? NSNumber)?.intValue ?? 0
            iteration.filesUpdated = (footer["files_updated"] as? NSNumber)?.intValue ?? 0
            iteration.filesDeleted = (footer["files_deleted"] as? NSNumber)?.intValue ?? 0
            iteration.filesSkipped = (footer["files_skipped"] as? NSNumber)?.intValue ?? 0
            iteration.filesFailed = (footer["files_failed"] as? NSNumber)?.intValue ?? 0
            iteration.bytesTransferred = (footer["total_bytes_transferred"] as? NSNumber)?.int64Value ?? 0
            iteration.errorMessage = footer["error_message"] as? String
        } else {
            iteration.status = .failed
            iteration.errorMessage = "the run was interrupted (killed or crashed) before it finished; \(operations) operations were logged"
        }
        self.iteration = iteration
        self.complete = footer != nil
        self.operationCount = operations
        self.damagedLines = damaged
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

    static func operation(_ object: [String: Any]) -> OperationRecord? {
        guard let sequence = (object["seq"] as? NSNumber)?.intValue,
            let operation = Operation(rawValue: object["operation"] as? String ?? ""),
            let filepath = object["filepath"] as? String,
            let started = (object["started_at_ns"] as? NSNumber)?.int64Value
        else { return nil }
        return OperationRecord(
            sequence: sequence, operation: operation, filepath: filepath,
            sizeBefore: (object["size_before"] as? NSNumber)?.int64Value,
            sizeAfter: (object["size_after"] as? NSNumber)?.int64Value,
            md5Before: object["md5_before"] as? String,
            md5After: object["md5_after"] as? String,
            startedAt: Timestamp(nanoseconds: started),
            endedAt: (object["ended_at_ns"] as? NSNumber).map { Timestamp(nanoseconds: $0.int64Value) },
            succeeded: object["status"] as? String != "fail",
            errorMessage: object["error_message"] as? String,
            dryRun: object["dry_run"] as? Bool ?? false)
    }
}

/// Hands out an opslog's operations in batches.
public final class OperationBatchReader {
    private let lines: OpslogLineReader
    private let size: Int

    init(lines: OpslogLineReader, size: Int) {
        self.lines = lines
        self.size = size
    }

    /// The next batch, or `nil` at the end.
    public func next() throws -> [OperationRecord]? {
        var batch: [OperationRecord] = []
        batch.reserveCapacity(size)
        while batch.count < size, let object = try lines.next() {
            guard let object, object["type"] as? String == "op", let record = OpslogFile.operation(object) else { continue }
            batch.append(record)
        }
        return batch.isEmpty ? nil : batch
    }
}

/// Reads an opslog line by line in 1 MiB chunks.
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

    /// The next complete line as a JSON object (`.some(nil)` when it is not valid JSON), or
    /// `nil` at the end. A last line without a newline is a torn write from a crash and is skipped.
    func next() throws -> [String: Any]?? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[start..<newline]
                start = newline + 1
                if line.isEmpty { continue }
                return .some((try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any])
            }
            if finished { return nil }
            buffer.removeSubrange(..<start)
            start = 0
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw AuditError("cannot read opslog \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 {
                finished = true
            } else {
                buffer.append(contentsOf: chunk[..<count])
            }
        }
    }
}

/// Line-by-line iteration over an opslog.
enum OpslogLines {
    /// Calls `body` with each complete line's JSON object (nil when the line is not valid JSON).
    static func forEach(path: String, _ body: ([String: Any]?, Int) throws -> Void) throws {
        let reader = try OpslogLineReader(path: path)
        var lineNumber = 0
        while let object = try reader.next() {
            lineNumber += 1
            try body(object, lineNumber)
        }
    }
}
