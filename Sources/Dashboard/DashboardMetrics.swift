import AuditLog
import CoreMetrics
import Prometheus
import SyncCore

/// Prometheus gauges per pair and direction, refreshed from the audit store at each scrape.
///
/// Only real runs count (`dry_run = 0`). The alert the specification wishes for is one rule
/// on these, in docs/operations.md.
final class DashboardMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    init() {
        factory = PrometheusMetricsFactory(registry: registry)
    }

    private func gauge(_ name: String, _ dimensions: [(String, String)]) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: name, dimensions: dimensions, factory: factory)
    }

    /// Status codes of `ha_sync_last_run_status`.
    static func code(_ status: IterationRecord.Status) -> Double {
        switch status {
        case .success: 0
        case .partialFailure: 1
        case .failed: 2
        case .running: 3
        }
    }

    func update(_ statuses: [PairStatus]) {
        gauge("ha_sync_store_up", []).record(1)
        for status in statuses {
            let labels = [("pair", status.pair), ("direction", status.direction)]
            if let success = status.lastRealSuccess {
                gauge("ha_sync_last_success_timestamp_seconds", labels).record(Double(success.seconds))
            }
            guard let last = status.lastReal?.record else { continue }
            if last.fanOutID != nil {
                // Which destination a fan-out direction label (fwd.2) stands for.
                gauge("ha_sync_destination_info", labels + [("dest", last.destination)]).record(1)
            }
            gauge("ha_sync_last_run_timestamp_seconds", labels).record(Double(last.startedAt.seconds))
            gauge("ha_sync_last_run_status", labels).record(Self.code(last.status))
            // A run in progress: what it has done so far (its row is updated as it goes).
            let running = last.status == .running
            gauge("ha_sync_run_running", labels).record(running ? 1 : 0)
            let done = last.filesCreated + last.filesUpdated + last.filesDeleted + last.filesFailed
            gauge("ha_sync_run_progress_files", labels).record(running ? Double(done) : 0)
            gauge("ha_sync_run_progress_bytes", labels).record(running ? Double(last.bytesTransferred) : 0)
            // The rest describes finished runs; a running row keeps the last finished values.
            if running { continue }
            gauge("ha_sync_last_run_conflicts", labels).record(Double(last.conflicts))
            gauge("ha_sync_version_store_bytes", labels).record(Double(last.versionStoreBytes))
            if let ended = last.endedAt {
                gauge("ha_sync_last_run_duration_seconds", labels).record(Double(ended.nanoseconds(since: last.startedAt)) / 1e9)
            }
            gauge("ha_sync_last_run_bytes", labels).record(Double(last.bytesTransferred))
            for (kind, value) in [
                ("created", last.filesCreated), ("updated", last.filesUpdated), ("deleted", last.filesDeleted),
                ("skipped", last.filesSkipped), ("failed", last.filesFailed),
            ] {
                gauge("ha_sync_last_run_files", labels + [("kind", kind)]).record(Double(value))
            }
        }
    }

    func storeDown() {
        gauge("ha_sync_store_up", []).record(0)
    }

    func text() -> String {
        registry.emitToString()
    }
}
