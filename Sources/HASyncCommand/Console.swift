import AuditLog
import Foundation
import NIOConcurrencyHelpers
import SyncCore
import SyncEngine
import SyncRunner

/// Serialises everything `ha-sync` prints: plan and summary on stdout, logs and the live
/// progress line on stderr. A log line first clears the progress line so they never mix.
final class Console: Sendable {
    static let shared = Console()

    let stderrIsTerminal = isatty(STDERR_FILENO) == 1
    /// A lock that sleeps rather than spins: its holder makes a write system call, and with an
    /// operation line per file from every I/O thread, `Mutex`'s spinning waiters took a tenth
    /// of the client's CPU on two cores.
    private let progressShown = NIOLockedValueBox(false)

    func out(_ line: String) {
        let bytes = Data((line + "\n").utf8)
        progressShown.withLockedValue { shown in
            clear(&shown)
            FileHandle.standardOutput.write(bytes)
        }
    }

    func err(_ line: String) {
        let bytes = Data((line + "\n").utf8)
        progressShown.withLockedValue { shown in
            clear(&shown)
            FileHandle.standardError.write(bytes)
        }
    }

    /// Shows `line` as the live progress line (terminals only).
    func progress(_ line: String) {
        progressShown.withLockedValue { shown in
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
            shown = true
        }
    }

    func clearProgress() {
        progressShown.withLockedValue { clear(&$0) }
    }

    private func clear(_ shown: inout Bool) {
        if shown {
            FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
            shown = false
        }
    }

    // MARK: Reports

    func emitHeld(pair: String, holder: String, format: OutputFormat) {
        if format == .json {
            out(JSONLine.encode(["type": "locked", "pair": pair, "holder": holder]))
        } else {
            out("ha-sync: pair \(pair) is locked by another run (\(holder)); nothing to do")
        }
    }

    func emitDryRunCurrent(since: Timestamp, format: OutputFormat) {
        let time = SQLTime.format(since) + " UTC"
        if format == .json {
            out(JSONLine.encode(["type": "dry_run_current", "as_of": time]))
        } else {
            out("Dry-run already current as of \(time). Nothing has changed.")
        }
    }

    func emitFailure(message: String, format: OutputFormat) {
        if format == .json {
            out(JSONLine.encode(["type": "summary", "status": "failed", "error": message]))
        }
    }

    func emitSummary(_ report: SyncReport, pair: String, direction: String, destination: String?, dryRun: Bool, format: OutputFormat) {
        let summary = report.summary
        if format == .json {
            var object: [String: any Sendable] = [
                "left_for_later": summary.leftForLater,
                "type": "summary", "status": report.status.rawValue, "dry_run": dryRun,
                "pair": pair, "direction": direction,
                "created": summary.created, "updated": summary.updated, "metadata_only": summary.metadataOnly,
                "deleted": summary.deleted, "skipped": summary.skipped, "failed": summary.failed, "conflicts": summary.conflicts,
                "versions_kept": summary.versionsKept, "versions_pruned": summary.versionsPruned,
                "excluded": summary.excluded, "version_store_files": summary.versionStoreFiles, "version_store_bytes": summary.versionStoreBytes,
                "bytes_transferred": summary.bytesTransferred, "duration_seconds": Double(report.durationNanoseconds) / 1e9,
                "temporary_files_removed": report.temporaryFilesRemoved, "deletes_withheld": report.deletesWithheld,
            ]
            if let message = report.failureMessage { object["error"] = message }
            if let destination { object["dest"] = destination }
            out(JSONLine.encode(object))
            return
        }
        let seconds = Double(report.durationNanoseconds) / 1e9
        let verb = dryRun ? "dry run" : "sync"
        let target = destination.map { " to \($0)" } ?? ""
        out("\(verb) \(pair) (\(direction))\(target): \(report.status.rawValue) in \(Format.duration(seconds))")
        let would = dryRun ? "would " : ""
        var counts = "  \(would)create \(summary.created), update \(summary.updated)"
        if summary.metadataOnly > 0 { counts += " (\(summary.metadataOnly) mtime only)" }
        counts += ", delete \(summary.deleted)"
        if summary.conflicts > 0 { counts += ", \(summary.conflicts) conflict\(summary.conflicts == 1 ? "" : "s") (both versions kept)" }
        counts += "; skipped \(summary.skipped), failed \(summary.failed)"
        if summary.excluded > 0 { counts += "; excluded \(summary.excluded)" }
        if summary.versionsKept > 0 || summary.versionsPruned > 0 {
            counts += "; \(would)keep \(summary.versionsKept) old version\(summary.versionsKept == 1 ? "" : "s"), prune \(summary.versionsPruned)"
        }
        out(counts)
        if !dryRun {
            let rate = seconds > 0 ? Double(summary.bytesTransferred) / seconds : 0
            out("  copied \(Format.bytes(summary.bytesTransferred)) (\(Format.bytes(Int64(rate)))/s)")
        }
        if summary.leftForLater > 0 {
            out("  left for a later run: \(summary.leftForLater) (still being written, or waiting for the file they announce)")
        }
        if let message = report.failureMessage { out("  \(message)") }
    }

    /// The last lines of a fan-out run: each destination's status, the worst first in the exit status.
    func emitFanOut(_ results: [FanOutResult], pair: String, format: OutputFormat) {
        if format == .json {
            for result in results {
                var object: [String: any Sendable] = [
                    "type": "destination", "pair": pair, "dest": result.destination, "exit_status": Int(result.status.rawValue),
                ]
                if let message = result.message { object["error"] = message }
                out(JSONLine.encode(object))
            }
            return
        }
        out("fan-out \(pair): \(results.count) destinations")
        for result in results {
            let status = result.status == .success ? "ok" : "\(result.status) (exit \(result.status.rawValue))"
            out("  \(result.destination): \(status)\(result.message.map { ": \($0)" } ?? "")")
        }
    }
}

/// Human-friendly numbers.
enum Format {
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.2f s", seconds) }
        let total = Int(seconds)
        return total >= 3600 ? "\(total / 3600)h\(total % 3600 / 60)m\(total % 60)s" : "\(total / 60)m\(total % 60)s"
    }
}

/// One JSON object per line, keys sorted, for `--output json` and `--log-format json`.
enum JSONLine {
    static func encode(_ object: [String: any Sendable]) -> String {
        let data =
            (try? JSONSerialization.data(withJSONObject: object.mapValues { $0 as Any }, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
