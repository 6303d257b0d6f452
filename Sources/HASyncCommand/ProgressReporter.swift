import Logging
import SyncEngine

/// Shows how far a run is: a live line on a terminal, a log line every 30 s otherwise
/// (CronJob logs). Runs until cancelled.
struct ProgressReporter: Sendable {
    let progress: SyncProgress
    let console: Console
    let logger: Logger
    let live: Bool

    func run() async {
        let interval: Duration = live ? .milliseconds(500) : .seconds(30)
        let clock = ContinuousClock()
        let start = clock.now
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            let snapshot = progress.snapshot
            let elapsed = start.duration(to: clock.now)
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
    }
}
