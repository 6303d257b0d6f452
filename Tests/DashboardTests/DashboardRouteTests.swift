import AuditDSN
import AuditLog
import AuditTestSupport
import Dashboard
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SyncCore
import Synchronization
import Testing

@Suite("Dashboard routes")
struct DashboardRouteTests {
    static func app(stores: StoreProvider) -> some ApplicationProtocol {
        Application(router: DashboardRouter.build(configuration: DashboardConfiguration(staleAfterSeconds: 86_400), stores: stores))
    }

    /// Runs `body` against a seeded store and closes the store afterwards (SQLite connections
    /// must be closed before they are released).
    static func withSeededApp(_ body: @escaping @Sendable (any TestClientProtocol, Int64) async throws -> Void) async throws {
        let (stores, failed) = try await seeded()
        do {
            try await app(stores: stores).test(.router) { client in try await body(client, failed) }
        } catch {
            await stores.close()
            throw error
        }
        await stores.close()
    }

    static func seeded() async throws -> (StoreProvider, Int64) {
        let (path, failed) = try await DashboardSeed.make()
        let stores = StoreProvider(logger: Logger(label: "test")) {
            try await SQLiteAuditStore.open(path: path, readOnly: true, logger: Logger(label: "test"))
        }
        return (stores, failed)
    }

    static func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    @Test func pairsShowLastRealAndDryRunSeparatelyWithAState() async throws {
        try await Self.withSeededApp { client, _ in
            try await client.execute(uri: "/api/pairs", method: .get) { response throws in
                #expect(response.status == .ok)
                #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
                let pairs = try #require(try Self.json(response.body)["pairs"] as? [[String: Any]])
                let states = Dictionary(uniqueKeysWithValues: pairs.map { ("\($0["pair"]!)/\($0["direction"]!)", $0["state"] as? String) })
                #expect(
                    states == [
                        "games/dell-to-hp": "stale", "media/dell-to-hp": "ok", "media/hp-to-dell": "ok", "photos/dell-to-hp": "failed",
                        "infra/dell-to-hp": "running", "ai/dell-to-hp": "stale", "netboot/fwd.1": "ok", "netboot/fwd.2": "ok",
                        "netboot/fwd.3": "failed",
                    ])
                let media = try #require(pairs.first { $0["pair"] as? String == "media" && $0["direction"] as? String == "dell-to-hp" })
                #expect((media["last_real"] as? [String: Any])?["dry_run"] as? Bool == false)
                #expect((media["last_dry_run"] as? [String: Any])?["dry_run"] as? Bool == true)
                let infra = try #require(pairs.first { $0["pair"] as? String == "infra" }?["last_real"] as? [String: Any])
                #expect(infra["status"] as? String == "running")
                #expect(infra["files_planned"] as? Int == 100)
                #expect(infra["bytes_planned"] as? Int == 4 << 20)
                #expect(infra["phase"] as? String == "copying")
            }
        }
    }

    @Test func iterationsFilterAndPage() async throws {
        try await Self.withSeededApp { client, _ in
            let first = try await client.execute(uri: "/api/iterations?pair=media&limit=2", method: .get)
            let page = try Self.json(first.body)
            let runs = try #require(page["iterations"] as? [[String: Any]])
            #expect(runs.count == 2)
            let before = try #require(page["next_before"] as? Int)
            let second = try await client.execute(uri: "/api/iterations?pair=media&limit=2&before=\(before)", method: .get)
            let rest = try #require(try Self.json(second.body)["iterations"] as? [[String: Any]])
            #expect(rest.count == 2)
            #expect(Set((runs + rest).map { $0["id"] as! Int }).count == 4)
            let dry = try await client.execute(uri: "/api/iterations?dry_run=true", method: .get)
            #expect((try Self.json(dry.body)["iterations"] as? [[String: Any]])?.count == 1)
        }
    }

    @Test func operationsOfOneIterationWithAStatusFilter() async throws {
        try await Self.withSeededApp { client, failed in
            let all = try await client.execute(uri: "/api/operations?iteration_id=\(failed)", method: .get)
            #expect(all.status == .ok)
            #expect((try Self.json(all.body)["operations"] as? [[String: Any]])?.count == 4)
            let failures = try await client.execute(uri: "/api/operations?iteration_id=\(failed)&status=fail", method: .get)
            let operations = try #require(try Self.json(failures.body)["operations"] as? [[String: Any]])
            #expect(operations.count == 1)
            #expect(operations.first?["filepath"] as? String == DashboardSeed.hostileName)
            let missing = try await client.execute(uri: "/api/operations?iteration_id=999999", method: .get)
            #expect(missing.status == .notFound)
        }
    }

    /// Rows written by schema version 1 hold escaped paths; people see the names themselves,
    /// and the escaped form only where a name cannot be shown as text.
    @Test func escapedRowsAreShownAsTheirNames() async throws {
        let store = InMemoryAuditStore()
        let started = Timestamp(seconds: 1_800_000_000)
        var pending: [OperationRecord]? = [
            OperationRecord(
                sequence: 1, operation: .create, filepath: "quo\"te\\\\back.txt", filepathEscaped: true, startedAt: started, dryRun: false),
            OperationRecord(sequence: 2, operation: .create, filepath: "new\\x0aline", filepathEscaped: true, startedAt: started, dryRun: false),
            OperationRecord(sequence: 3, operation: .create, filepath: "plain\\name", filepathEscaped: false, startedAt: started, dryRun: false),
        ]
        guard
            case .stored(let id) = try await store.store(
                AuditStoreConformance.iteration(run: "escaped"),
                nextBatch: {
                    defer { pending = nil }
                    return pending
                })
        else {
            Issue.record("stored")
            return
        }
        let stores = StoreProvider(logger: Logger(label: "test")) { store }
        try await Self.app(stores: stores).test(.router) { client in
            let response = try await client.execute(uri: "/api/operations?iteration_id=\(id)", method: .get)
            let operations = try #require(try Self.json(response.body)["operations"] as? [[String: Any]])
            #expect(operations.compactMap { $0["filepath"] as? String }.sorted() == ["new\\x0aline", "plain\\name", "quo\"te\\back.txt"])
        }
    }

    @Test(arguments: [
        "/api/iterations?limit=0", "/api/iterations?limit=abc", "/api/iterations?limit=501", "/api/iterations?dry_run=maybe",
        "/api/iterations?before=-3", "/api/operations", "/api/operations?iteration_id=x", "/api/operations?iteration_id=1&status=odd",
        "/api/operations?iteration_id=1&limit=5000",
    ])
    func badParametersAre400WithAJSONError(_ uri: String) async throws {
        try await Self.withSeededApp { client, _ in
            try await client.execute(uri: uri, method: .get) { response throws in
                #expect(response.status == .badRequest)
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                let error = try Self.json(response.body)["error"] as? String
                #expect(error?.isEmpty == false)
            }
        }
    }

    @Test func anUnreachableStoreIs503AndTheProcessStaysUp() async throws {
        let secret = "hunter2-secret"
        // A real MySQL DSN with the secret as its password, pointing at a closed port: the error
        // comes from the store itself, which must not carry the password into any response.
        let dsn = try DatabaseDSN(parsing: "hasync:\(secret)@tcp(127.0.0.1:1)/general_db?timeout=2s")
        let stores = StoreProvider(retryAfterSeconds: 0, logger: Logger(label: "test")) {
            try await AuditStores.open(dsn, readOnly: true, logger: Logger(label: "test"))
        }
        try await Self.app(stores: stores).test(.router) { client in
            for uri in ["/api/pairs", "/api/iterations", "/api/operations?iteration_id=1", "/readyz"] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .serviceUnavailable, "\(uri)")
                let error = try #require(try Self.json(response.body)["error"] as? String)
                #expect(error.contains("audit store unreachable"))
                #expect(!error.contains(secret))
            }
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .ok)
            #expect(String(buffer: page.body).contains("id=\"store-status\""))
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("ha_sync_store_up 0"))
        }
    }

    @Test func metricsAreValidPrometheusTextWithPerPairGauges() async throws {
        try await Self.withSeededApp { client, _ in
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = String(buffer: response.body)
            try PrometheusText.validate(text)
            #expect(text.contains("ha_sync_store_up 1"))
            #expect(text.contains(#"ha_sync_last_run_status{pair="photos",direction="dell-to-hp"} 1"#))
            #expect(text.contains(#"ha_sync_last_run_status{pair="media",direction="dell-to-hp"} 0"#))
            #expect(text.contains(#"ha_sync_last_run_files{pair="media",direction="dell-to-hp",kind="created"} 2"#))
            #expect(text.contains(#"ha_sync_last_run_bytes{pair="games",direction="dell-to-hp"} 4096"#))
            #expect(text.contains("ha_sync_last_success_timestamp_seconds{"))
            #expect(text.contains(#"ha_sync_run_running{pair="infra",direction="dell-to-hp"} 1"#))
            #expect(text.contains(#"ha_sync_run_progress_files{pair="infra",direction="dell-to-hp"} 42"#))
            #expect(text.contains(#"ha_sync_run_progress_bytes{pair="infra",direction="dell-to-hp"} 1048576"#))
            #expect(text.contains(#"ha_sync_run_running{pair="media",direction="dell-to-hp"} 0"#))
            #expect(text.contains(#"ha_sync_last_run_status{pair="infra",direction="dell-to-hp"} 3"#))
            #expect(text.contains(#"ha_sync_last_run_conflicts{pair="media",direction="dell-to-hp"} 1"#))
            #expect(text.contains(#"ha_sync_version_store_bytes{pair="media",direction="dell-to-hp"} 8589934592"#))
        }
    }

    @Test func aFanOutRunShowsARowPerDestination() async throws {
        // The seed holds a fan-out run to three caches, the third failed.
        try await Self.withSeededApp { client, _ in
            let response = try await client.execute(uri: "/api/pairs", method: .get)
            let pairs = try #require(try Self.json(response.body)["pairs"] as? [[String: Any]]).filter { $0["pair"] as? String == "netboot" }
            #expect(pairs.count == 3, "a row per destination")
            let runs = pairs.compactMap { $0["last_real"] as? [String: Any] }
            #expect(Set(runs.compactMap { $0["fan_out_id"] as? String }) == ["6b1f0c1e-0000-4000-8000-000000000001"])
            #expect(Set(runs.compactMap { $0["dest"] as? String }) == ["/srv/cache-1", "/srv/cache-2", "/srv/cache-3"])
            #expect(pairs.first { $0["direction"] as? String == "fwd.3" }?["state"] as? String == "failed")
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            try PrometheusText.validate(metrics)
            #expect(metrics.contains(#"ha_sync_destination_info{pair="netboot",direction="fwd.2",dest="/srv/cache-2"} 1"#))
            #expect(metrics.contains(#"ha_sync_last_run_status{pair="netboot",direction="fwd.3"} 2"#))
        }
    }

    /// Requests that arrive together while the store is being opened share one connection; the
    /// others are closed, never dropped open (a debug build of SQLiteNIO traps on that, which
    /// is how the page's parallel requests once crashed the dashboard).
    @Test func requestsArrivingTogetherOpenOneStore() async throws {
        let (path, _) = try await DashboardSeed.make()
        let opens = Mutex(0)
        let stores = StoreProvider(logger: Logger(label: "test")) {
            opens.withLock { $0 += 1 }
            try await Task.sleep(for: .milliseconds(100))
            return try await SQLiteAuditStore.open(path: path, readOnly: true, logger: Logger(label: "test"))
        }
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { try await stores.withStore { try await $0.pairStatuses().count } } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(counts == Array(repeating: 9, count: 8))
        #expect(opens.withLock { $0 } == 8, "all eight waited on an open at once")
        await stores.close()
    }

    @Test func conflictsListThePairsCopies() async throws {
        try await Self.withSeededApp { client, _ in
            try await client.execute(uri: "/api/conflicts?pair=photos", method: .get) { response throws in
                #expect(response.status == .ok)
                let conflicts = try #require(try Self.json(response.body)["conflicts"] as? [[String: Any]])
                #expect(conflicts.count == 1)
                let conflict = try #require(conflicts.first)
                #expect(conflict["path"] as? String == "notes/" + DashboardSeed.hostileName)
                #expect(conflict["copy_path"] as? String == "notes/" + DashboardSeed.hostileName + ".conflict-hp-20261202-120000")
                #expect(conflict["kept_size"] as? Int == 2048)
                #expect(conflict["copy_size"] as? Int == 1500)
                #expect(conflict["copy_side"] as? String == "b")
                #expect(conflict["resolved"] as? Bool == false)
            }
            #expect(try await client.execute(uri: "/api/conflicts?pair=media", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/api/conflicts", method: .get).status == .badRequest)
        }
    }

    /// The event stream says at once whether a run is in progress, then only when something
    /// changes; it ends after its lifetime (the browser reconnects).
    @Test func theEventStreamAnnouncesRunningRuns() async throws {
        let (stores, _) = try await Self.seeded()
        var configuration = DashboardConfiguration(staleAfterSeconds: 86_400)
        configuration.eventStreamLifetime = .milliseconds(2500)
        let app = Application(router: DashboardRouter.build(configuration: configuration, stores: stores))
        do {
            try await app.test(.router) { client in
                let response = try await client.execute(uri: "/api/events", method: .get)
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/event-stream") == true)
                let body = String(buffer: response.body)
                #expect(body.hasPrefix("retry: 3000\n\n"))
                // The seeded store has a run in progress and nothing changes meanwhile: one event.
                #expect(body.components(separatedBy: "event: pairs\n").count == 2, "\(body)")
                #expect(body.contains(#"data: {"running":true}"#))
            }
        } catch {
            await stores.close()
            throw error
        }
        await stores.close()
    }

    @Test func pagesAndAssetsAreServedByTheBinary() async throws {
        try await Self.withSeededApp { client, _ in
            for (uri, type) in [
                ("/", "text/html"), ("/how-it-works", "text/html"), ("/static/app.js", "text/javascript"), ("/static/style.css", "text/css"),
            ] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix(type) == true, "\(uri)")
                let body = String(buffer: response.body)
                #expect(!body.contains("http://") || uri == "/static/app.js", "no external resources in \(uri)")
            }
            let script = String(buffer: try await client.execute(uri: "/static/app.js", method: .get).body)
            #expect(!script.contains("innerHTML"), "data is never inserted as HTML")
        }
    }
}

/// Checks the Prometheus text exposition format line by line.
enum PrometheusText {
    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    static func validate(_ text: String) throws {
        let sample = try Regex(#"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.eE+-]+|NaN|[+-]Inf$"#)
        for line in text.split(separator: "\n") where !line.isEmpty {
            if line.hasPrefix("# TYPE ") || line.hasPrefix("# HELP ") { continue }
            guard (try? sample.wholeMatch(in: String(line))) != nil else { throw Invalid(description: "not a Prometheus sample: \(line)") }
        }
    }
}

/// The compare view's API: the latest dry run's plan, sorted into where each path differs.
@Suite("Dashboard compare view")
struct DashboardCompareTests {
    @Test func theLatestDryRunSaysWhatDiffersAndTheFilterNarrowsIt() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ha-sync-compare-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/ha-sync.db"
        let store = try await SQLiteAuditStore.open(path: path, logger: Logger(label: "seed"))
        let now = Timestamp.now().seconds
        func op(_ sequence: Int, _ operation: SyncCore.Operation, _ file: String, direction: String?, conflict: Bool = false) -> OperationRecord {
            var record = OperationRecord(
                sequence: sequence, operation: operation, filepath: file, sizeBefore: 5, sizeAfter: 7, startedAt: Timestamp(seconds: now - 10),
                dryRun: true)
            record.direction = direction
            record.conflict = conflict
            return record
        }
        let plans: [(String, Int64, [OperationRecord])] = [
            ("old", 600, [op(1, .create, "stale.txt", direction: "a-to-b")]),
            (
                "new", 60,
                [
                    op(1, .create, "new-on-a.txt", direction: "a-to-b"), op(2, .create, "new-on-b.txt", direction: "b-to-a"),
                    op(3, .delete, "gone-from-a.txt", direction: "a-to-b"), op(4, .update, "edited.txt", direction: "b-to-a"),
                    op(5, .update, "both.txt", direction: "a-to-b", conflict: true), op(6, .version, ".ha-sync-versions/x", direction: "a-to-b"),
                ]
            ),
        ]
        for (run, ago, operations) in plans {
            var remaining = operations
            let record = AuditStoreConformance.iteration(
                run: run, pair: "photos", direction: "both", dryRun: true, status: .success, startedAt: now - ago)
            _ = try await store.store(
                record,
                nextBatch: {
                    defer { remaining = [] }
                    return remaining.isEmpty ? nil : remaining
                })
        }
        await store.close()
        let stores = StoreProvider(logger: Logger(label: "test")) {
            try await SQLiteAuditStore.open(path: path, readOnly: true, logger: Logger(label: "test"))
        }
        try await DashboardRouteTests.app(stores: stores).test(.router) { client in
            try await client.execute(uri: "/api/compare?pair=photos", method: .get) { response throws in
                #expect(response.status == .ok)
                let body = try DashboardRouteTests.json(response.body)
                #expect((body["iteration"] as? [String: Any])?["direction"] as? String == "both")
                let counts = try #require(body["counts"] as? [String: Int])
                #expect(counts == ["only_a": 1, "only_b": 2, "different": 1, "conflict": 1])
                let rows = try #require(body["rows"] as? [[String: Any]])
                let kinds = Dictionary(uniqueKeysWithValues: rows.map { ($0["path"] as! String, $0["kind"] as! String) })
                #expect(
                    kinds == [
                        "new-on-a.txt": "only_a", "new-on-b.txt": "only_b", "gone-from-a.txt": "only_b", "edited.txt": "different",
                        "both.txt": "conflict",
                    ])
                #expect(kinds["stale.txt"] == nil, "only the latest dry run counts")
            }
            try await client.execute(uri: "/api/compare?pair=photos&kind=only_b", method: .get) { response throws in
                let rows = try #require(try DashboardRouteTests.json(response.body)["rows"] as? [[String: Any]])
                #expect(Set(rows.map { $0["path"] as! String }) == ["new-on-b.txt", "gone-from-a.txt"])
            }
            try await client.execute(uri: "/api/compare?pair=media", method: .get) { response throws in
                let body = try DashboardRouteTests.json(response.body)
                #expect(body["iteration"] == nil || body["iteration"] is NSNull)
                #expect((body["rows"] as? [Any])?.isEmpty == true)
            }
            #expect(try await client.execute(uri: "/api/compare?pair=photos&kind=bogus", method: .get).status == .badRequest)
            #expect(try await client.execute(uri: "/api/compare", method: .get).status == .badRequest)
        }
        await stores.close()
    }

    @Test func operationsAreSortedBySideTheyWouldChange() {
        #expect(PairComparison.kind(of: .create, direction: nil, conflict: false) == .onlyA)
        #expect(PairComparison.kind(of: .delete, direction: nil, conflict: false) == .onlyB)
        #expect(PairComparison.kind(of: .create, direction: "b-to-a", conflict: false) == .onlyB)
        #expect(PairComparison.kind(of: .delete, direction: "b-to-a", conflict: false) == .onlyA)
        #expect(PairComparison.kind(of: .update, direction: "a-to-b", conflict: false) == .different)
        #expect(PairComparison.kind(of: .update, direction: "a-to-b", conflict: true) == .conflict)
        #expect(PairComparison.kind(of: .prune, direction: nil, conflict: false) == nil)
    }
}
