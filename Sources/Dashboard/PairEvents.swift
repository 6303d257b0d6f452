import AuditLog
import Foundation
import Hummingbird
import NIOCore
import SyncCore
import Synchronization

/// Server-sent events for the page: an event whenever what the pair cards show changes (a run
/// starts, stores progress, or ends), so a running sync's progress reaches the browser within
/// about a second without the page polling. The page keeps its slower poll as a fallback.
///
/// Each stream checks the store once per `interval` and lasts at most `lifetime` (the browser's
/// EventSource reconnects by itself), so a server shutting down never waits long on one.
final class PairEvents: Sendable {
    let stores: StoreProvider
    let clock: any WallClock
    let interval: Duration
    let lifetime: Duration
    /// Streams open at once; more get 503 and the page falls back to polling.
    static let maximumStreams = 32
    private let open = Atomic<Int>(0)

    init(stores: StoreProvider, clock: any WallClock, interval: Duration = .seconds(1), lifetime: Duration = .seconds(300)) {
        self.stores = stores
        self.clock = clock
        self.interval = interval
        self.lifetime = lifetime
    }

    /// What the cards show, reduced to a fingerprint: the last real run of each pair direction
    /// with its status and counters.
    static func fingerprint(_ statuses: [PairStatus]) -> String {
        statuses.map { status in
            guard let last = status.lastReal else { return "\(status.pair)/\(status.direction):-" }
            let record = last.record
            return "\(status.pair)/\(status.direction):\(last.id):\(record.status.rawValue):\(record.filesCreated):\(record.filesUpdated):"
                + "\(record.filesDeleted):\(record.filesFailed):\(record.bytesTransferred):\(record.filesPlanned):\(record.phase ?? "")"
        }.joined(separator: "|")
    }

    func response() -> Response {
        guard open.add(1, ordering: .relaxed).newValue <= Self.maximumStreams else {
            open.subtract(1, ordering: .relaxed)
            return Response(
                status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: "too many event streams; the page polls instead\n")))
        }
        let events = self
        let body = ResponseBody { writer in
            defer { events.open.subtract(1, ordering: .relaxed) }
            // Reconnect after 3 s when the stream drops.
            try await writer.write(ByteBuffer(string: "retry: 3000\n\n"))
            let deadline = events.clock.now.advanced(by: events.lifetime)
            var last: String?
            var quiet = 0
            while events.clock.now < deadline {
                if let statuses = try? await events.stores.withStore({ try await $0.pairStatuses() }) {
                    let running = statuses.contains { $0.lastReal?.record.status == .running }
                    let fingerprint = Self.fingerprint(statuses)
                    if fingerprint != last {
                        let payload = #"{"running":\#(running)}"#
                        // The first event tells the page the stream works; later ones that something changed.
                        try await writer.write(ByteBuffer(string: "event: pairs\ndata: \(payload)\n\n"))
                        last = fingerprint
                        quiet = 0
                    }
                }
                quiet += 1
                if quiet >= 15 {
                    try await writer.write(ByteBuffer(string: ": still here\n\n"))
                    quiet = 0
                }
                try await events.clock.sleep(until: events.clock.now.advanced(by: events.interval), tolerance: nil)
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"],
            body: body)
    }
}
