import Logging
import SyncCore
import SyncEngine
import SyncRunner

/// Prints a run for a person or a log collector: the plan and summary on stdout, progress
/// as a live line on a terminal or a log line every 30 s otherwise (CronJob logs).
struct ConsoleReporter: RunReporter {
    let console: Console
    let format: OutputFormat
    let pair: String
    let direction: String
    let dryRun: Bool
    let verbose: Bool
    let live: Bool
    let logger: Logger
    /// The destination this reporter speaks for in a fan-out run; `nil` with one destination.
    var destination: String?

    var observer: any SyncObserver {
        ConsoleObserver(console: console, format: format, dryRun: dryRun, verbose: verbose, logger: logger, destination: destination)
    }

    func forDestination(_ destination: String, direction: String) -> any RunReporter {
        var reporter = ConsoleReporter(
            console: console, format: format, pair: pair, direction: direction, dryRun: dryRun, verbose: verbose, live: live, logger: logger)
        reporter.destination = destination
        return reporter
    }

    func fanOutFinished(_ results: [FanOutResult]) {
        console.emitFanOut(results, pair: pair, format: format)
    }

    func lockHeld(pair: String, holder: String) {
        console.emitHeld(pair: pair, holder: holder, format: format)
    }

    func dryRunAlreadyCurrent(since: Timestamp) {
        console.emitDryRunCurrent(since: since, format: format)
    }

    func runFailed(_ message: String) {
        console.emitFailure(message: message, format: format)
    }

    func finished(_ report: SyncReport) {
        console.emitSummary(report, pair: pair, direction: direction, destination: destination, dryRun: dryRun, format: format)
    }

    func progress(_ snapshot: SyncProgress.Snapshot, elapsed: Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Int64(Double(snapshot.doneBytes) / seconds) : 0
        let total = snapshot.walkFinished ? "\(snapshot.planned)" : "\(snapshot.planned)+"
        if live {
            console.progress(
                "scanned \(snapshot.scanned) · ops \(snapshot.done)/\(total) · \(Format.bytes(snapshot.doneBytes))/\(Format.bytes(snapshot.plannedBytes)) · \(Format.bytes(rate))/s"
                    + (snapshot.failed > 0 ? " · \(snapshot.failed) failed" : ""))
        } else {
            logger.info(
                "progress",
                metadata: [
                    "scanned": "\(snapshot.scanned)", "done": "\(snapshot.done)", "planned": "\(total)",
                    "bytes_done": "\(snapshot.doneBytes)", "bytes_planned": "\(snapshot.plannedBytes)", "failed": "\(snapshot.failed)",
                ])
        }
    }

    func progressEnded() {
        console.clearProgress()
    }
}
