import AuditLog
import Logging
import SyncCore
import SyncEngine

/// Prints operations as the engine reports them: always in a dry run (that is the plan),
/// with `--verbose` in a real run, failures always.
struct ConsoleObserver: SyncObserver {
    let console: Console
    let format: OutputFormat
    let dryRun: Bool
    let verbose: Bool
    let logger: Logger
    /// Set in a fan-out run: each line names its destination.
    var destination: String? = nil

    func operationFinished(_ result: OperationResult) {
        if case .skip(let reason) = result.action, result.status == .success {
            skipped(result.path, reason: reason)
            return
        }
        if result.status == .failed {
            logger.warning("failed: \(destination.map { "\($0): " } ?? "")\(result.path.escaped): \(result.errorMessage ?? "unknown error")")
        }
        guard dryRun || verbose || format == .json else { return }
        if format == .json {
            console.out(Self.jsonLine(result, dryRun: dryRun, destination: destination))
        } else {
            let operation = result.isConflict ? "conflict" : result.operation?.rawValue ?? "error"
            let size = result.kind == .file ? Format.bytes(result.sizeAfter ?? result.sizeBefore ?? 0) : result.kind.rawValue
            var line = "\(operation.padding(8))  \(size.padding(10))  "
            if let side = result.side { line += "\(side.travel)  " }
            line += result.path.escaped
            if case .update(let reason) = result.action, !result.isConflict { line += "  (\(reason.rawValue))" }
            if result.isConflict { line += "  (changed on both sides; the other version is kept as a conflict copy)" }
            if result.action == .setModificationTime { line += "  (same content, mtime only)" }
            if result.status == .failed { line += "  FAILED: \(result.errorMessage ?? "")" }
            if let destination { line += "  → \(destination)" }
            console.out(line)
        }
    }

    func skipped(_ path: RelativePath, reason: SkipReason) {
        guard verbose else { return }
        if format == .json {
            var object: [String: any Sendable] = ["type": "skip", "path": path.escaped, "reason": reason.rawValue]
            if let destination { object["dest"] = destination }
            console.out(JSONLine.encode(object))
        } else {
            console.out("\("skip".padding(8))  \("".padding(10))  \(path.escaped)  (\(reason.rawValue))\(destination.map { "  → \($0)" } ?? "")")
        }
    }

    /// The `--output json` line of an operation, keys in name order, written without
    /// Foundation's encoder (which cost more CPU than copying a small file).
    static func jsonLine(_ result: OperationResult, dryRun: Bool, destination: String?) -> String {
        var line = FlatJSONLine()
        line.add("bytes_transferred", result.bytesTransferred)
        if result.isConflict { line.add("conflict", true) }
        if let destination { line.add("dest", destination) }
        if let side = result.side { line.add("direction", side.travel) }
        line.add("dry_run", dryRun)
        if let value = result.errorMessage { line.add("error", value) }
        line.add("kind", result.kind.rawValue)
        if let value = result.md5After { line.add("md5_after", value) }
        if let value = result.md5Before { line.add("md5_before", value) }
        line.add("operation", result.operation?.rawValue ?? "error")
        line.add("path", result.path.escaped)
        switch result.action {
        case .update(let reason): line.add("reason", reason.rawValue)
        case .setModificationTime: line.add("reason", "mtime only")
        default: break
        }
        if let value = result.sizeAfter { line.add("size_after", value) }
        if let value = result.sizeBefore { line.add("size_before", value) }
        line.add("status", result.status.rawValue)
        line.add("type", "operation")
        var bytes = line.finish()
        bytes.removeLast()  // the newline: the console adds its own
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
