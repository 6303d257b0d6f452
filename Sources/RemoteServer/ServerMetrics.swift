import CoreMetrics
import Prometheus
import Synchronization

/// The server's Prometheus series (`ha_sync_serve_*`), on its own registry.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let active = Atomic<Int>(0)
    private let activeGauge: CoreMetrics.Gauge

    init() {
        factory = PrometheusMetricsFactory(registry: registry)
        activeGauge = CoreMetrics.Gauge(label: "ha_sync_serve_active_requests", dimensions: [], factory: factory)
        activeGauge.record(0)
    }

    private func counter(_ name: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: name, dimensions: dimensions, factory: factory)
    }

    func request(root: String, operation: String) {
        counter("ha_sync_serve_requests_total", [("root", root), ("operation", operation)]).increment()
    }

    func failure(root: String, operation: String) {
        counter("ha_sync_serve_errors_total", [("root", root), ("operation", operation)]).increment()
    }

    func unauthorized() {
        counter("ha_sync_serve_unauthorized_total", []).increment()
    }

    func received(root: String, bytes: Int) {
        counter("ha_sync_serve_received_bytes_total", [("root", root)]).increment(by: bytes)
    }

    func sent(root: String, bytes: Int) {
        counter("ha_sync_serve_sent_bytes_total", [("root", root)]).increment(by: bytes)
    }

    /// File data that crossed the wire against data rebuilt from the receiver's old copy.
    func fileData(root: String, literal: Int64, copied: Int64) {
        if literal > 0 { counter("ha_sync_serve_file_bytes_total", [("root", root), ("source", "wire")]).increment(by: Int(literal)) }
        if copied > 0 { counter("ha_sync_serve_file_bytes_total", [("root", root), ("source", "basis")]).increment(by: Int(copied)) }
    }

    func begin() {
        activeGauge.record(active.add(1, ordering: .relaxed).newValue)
    }

    func end() {
        activeGauge.record(active.subtract(1, ordering: .relaxed).newValue)
    }

    func text() -> String {
        registry.emitToString()
    }
}

/// Byte counts of one streamed request, from its I/O thread.
final class StreamStats: Sendable {
    private let literal = Atomic<Int64>(0)
    private let copied = Atomic<Int64>(0)

    func add(literal: Int64, copied: Int64 = 0) {
        self.literal.add(literal, ordering: .relaxed)
        self.copied.add(copied, ordering: .relaxed)
    }

    var literalBytes: Int64 { literal.load(ordering: .relaxed) }
    var copiedBytes: Int64 { copied.load(ordering: .relaxed) }
}
