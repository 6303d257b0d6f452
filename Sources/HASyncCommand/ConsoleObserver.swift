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
            var object = Self.jsonObject(result, dryRun: dryRun)
            if let destination { object["dest"] = destination }
            console.out(JSONLine.encode(object))
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

    static func jsonObject(_ result: OperationResult, dryRun: Bool) -> [String: any Sendable] {
        var object: [String: any Sendable] = [
            "type": "operation",
            "operation": result.operation?.rawValue ?? "error",
            "path": result.path.escaped,
            "kind": result.kind.rawValue,
            "status": result.status.rawValue,
            "dry_run": dryRun,
            "bytes_transferred": result.bytesTransferred,
        ]
        if let value = result.sizeBefore { object["size_before"] = value }
        if let value = result.sizeAfter { object["size_after"] = value }
        if let value = result.md5Before { object["md5_before"] = value }
        if let value = result.md5After { object["md5_after"] = value }
        if let value = result.errorMessage { object["error"] = value }
        if let side = result.side { object["direction"] = side.travel }
        if result.isConflict { object["conflict"] = true }
        switch result.action {
        case .update(let reason): object["reason"] = reason.rawValue
        case .setModificationTime: object["reason"] = "mtime only"
        default: break
        }
        return object
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
