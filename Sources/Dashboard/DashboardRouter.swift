import AuditLog
import Foundation
public import Hummingbird
import SyncCore

/// The dashboard's routes: the page, the explanation page, the JSON API, health and metrics.
public enum DashboardRouter {
    /// Builds the router. `stores` is read, never written.
    public static func build(configuration: DashboardConfiguration, stores: StoreProvider) -> Router<BasicRequestContext> {
        let router = Router()
        let metrics = DashboardMetrics()
        router.middlewares.add(
            ContentSecurityMiddleware(contentSecurityPolicy: [
                .defaultSrc(.none), .scriptSrc(.self), .styleSrc(.self), .imgSrc(.self), .connectSrc(.self),
                .baseURI(.none), .formAction(.none), .frameAncestors(.none),
            ]))

        router.get("/") { _, _ in Self.asset(DashboardAssets.indexPage(configuration), type: "text/html; charset=utf-8") }
        router.get("/how-it-works") { _, _ in Self.asset(DashboardAssets.howItWorksPage, type: "text/html; charset=utf-8") }
        router.get("/static/app.js") { _, _ in Self.asset(DashboardAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("/static/style.css") { _, _ in Self.asset(DashboardAssets.stylesheet, type: "text/css; charset=utf-8") }
        router.get("/healthz") { _, _ in Self.asset("ok\n", type: "text/plain; charset=utf-8") }

        router.get("/readyz") { _, _ in
            do {
                try await stores.withStore { try await $0.ping() }
                return Self.asset("ready\n", type: "text/plain; charset=utf-8")
            } catch {
                return Self.json(DashboardJSON.Failure(error: "\(error)"), status: .serviceUnavailable)
            }
        }

        router.get("/metrics") { _, _ in
            do {
                metrics.update(try await stores.withStore { try await $0.pairStatuses() })
            } catch {
                metrics.storeDown()
            }
            return Self.asset(metrics.text(), type: "text/plain; version=0.0.4; charset=utf-8")
        }

        let events = PairEvents(stores: stores, clock: configuration.clock, lifetime: configuration.eventStreamLifetime)
        router.get("/api/events") { _, _ in events.response() }

        router.get("/api/pairs") { _, _ in
            try await Self.answer {
                let statuses = try await stores.withStore { try await $0.pairStatuses() }
                let now = configuration.clock.now
                let pairs = statuses.map { status in
                    DashboardJSON.Pair(
                        pair: status.pair, direction: status.direction,
                        lastReal: status.lastReal.map(DashboardJSON.Iteration.init),
                        lastDryRun: status.lastDryRun.map(DashboardJSON.Iteration.init),
                        lastSuccessAt: status.lastRealSuccess.map(DashboardJSON.time),
                        state: DashboardJSON.state(of: status, now: now, staleAfter: configuration.staleAfterSeconds))
                }
                return DashboardJSON.Pairs(
                    pairs: pairs, generatedAt: DashboardJSON.time(now), staleAfterSeconds: configuration.staleAfterSeconds,
                    refreshSeconds: configuration.refreshSeconds)
            }
        }

        router.get("/api/iterations") { request, _ in
            try await Self.answer {
                let parameters = Self.query(request)
                let limit = try Self.integer(parameters, "limit", default: 20, range: 1...500)
                let before = try Self.optionalInteger(parameters, "before")
                var dryRun: Bool?
                if let text = parameters["dry_run"] {
                    guard let value = ["true": true, "1": true, "false": false, "0": false][text] else {
                        throw BadRequest("dry_run must be true or false")
                    }
                    dryRun = value
                }
                let pair = try Self.name(parameters, "pair")
                let direction = try Self.name(parameters, "direction")
                let query = IterationQuery(pair: pair, direction: direction, dryRun: dryRun, limit: limit, beforeID: before)
                let iterations = try await stores.withStore { try await $0.iterations(query) }
                return DashboardJSON.Iterations(
                    iterations: iterations.map(DashboardJSON.Iteration.init),
                    nextBefore: iterations.count == limit ? iterations.last?.id : nil)
            }
        }

        router.get("/api/conflicts") { request, _ in
            try await Self.answer {
                let parameters = Self.query(request)
                guard let pair = parameters["pair"], !pair.isEmpty else { throw BadRequest("pair is required") }
                let limit = try Self.integer(parameters, "limit", default: 100, range: 1...1000)
                let conflicts = try await stores.withStore { try await $0.conflicts(pair: pair, limit: limit) }
                return DashboardJSON.Conflicts(conflicts: conflicts.map(DashboardJSON.Conflict.init))
            }
        }

        router.get("/api/compare") { request, _ in
            try await Self.answer {
                let parameters = Self.query(request)
                guard let pair = parameters["pair"], !pair.isEmpty else { throw BadRequest("pair is required") }
                let limit = try Self.integer(parameters, "limit", default: 1000, range: 1...5000)
                let wanted = try parameters["kind"].map { text in
                    guard let kind = PairComparison.Kind(rawValue: text) else {
                        throw BadRequest("kind must be one of " + PairComparison.Kind.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                    return kind
                }
                return try await stores.withStore { store in
                    guard let latest = try await store.iterations(IterationQuery(pair: pair, dryRun: true, limit: 1)).first else {
                        return DashboardJSON.Comparison(iteration: nil, counts: [:], rows: [], truncated: false)
                    }
                    let operations = try await store.operations(OperationQuery(iterationID: latest.id, limit: limit))
                    var counts: [String: Int] = [:]
                    for kind in PairComparison.Kind.allCases { counts[kind.rawValue] = 0 }
                    var rows: [DashboardJSON.ComparisonRow] = []
                    for stored in operations {
                        let record = stored.record
                        guard let kind = PairComparison.kind(of: record.operation, direction: record.direction, conflict: record.conflict) else {
                            continue
                        }
                        counts[kind.rawValue, default: 0] += 1
                        if let wanted, wanted != kind { continue }
                        rows.append(
                            DashboardJSON.ComparisonRow(
                                path: record.displayPath, kind: kind.rawValue, operation: record.operation.rawValue,
                                sizeBefore: record.sizeBefore, sizeAfter: record.sizeAfter, direction: record.direction))
                    }
                    return DashboardJSON.Comparison(
                        iteration: DashboardJSON.Iteration(latest), counts: counts, rows: rows, truncated: operations.count == limit)
                }
            }
        }

        router.get("/api/operations") { request, _ in
            try await Self.answer {
                let parameters = Self.query(request)
                guard let id = try Self.optionalInteger(parameters, "iteration_id") else { throw BadRequest("iteration_id is required") }
                let limit = try Self.integer(parameters, "limit", default: 100, range: 1...1000)
                let after = try Self.optionalInteger(parameters, "after")
                var succeeded: Bool?
                if let text = parameters["status"] {
                    guard text == "success" || text == "fail" else { throw BadRequest("status must be success or fail") }
                    succeeded = text == "success"
                }
                let query = OperationQuery(iterationID: id, succeeded: succeeded, limit: limit, afterID: after)
                let (iteration, operations) = try await stores.withStore { store in
                    (try await store.iteration(id: id), try await store.operations(query))
                }
                guard let iteration else { throw NotFound("no iteration \(id)") }
                return DashboardJSON.Operations(
                    iteration: DashboardJSON.Iteration(iteration), operations: operations.map(DashboardJSON.Operation.init),
                    nextAfter: operations.count == limit ? operations.last?.id : nil)
            }
        }
        return router
    }

    // MARK: Helpers

    struct BadRequest: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    struct NotFound: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    /// Runs an API handler: its value as JSON, or the error as `{"error": ...}` with a fitting status.
    static func answer<T: Encodable & Sendable>(_ body: () async throws -> T) async throws -> Response {
        do {
            return json(try await body())
        } catch let error as BadRequest {
            return json(DashboardJSON.Failure(error: error.message), status: .badRequest)
        } catch let error as NotFound {
            return json(DashboardJSON.Failure(error: error.message), status: .notFound)
        } catch let error as StoreUnavailable {
            return json(DashboardJSON.Failure(error: error.description), status: .serviceUnavailable)
        }
    }

    /// The query string as a dictionary (the first value wins), percent-decoded.
    static func query(_ request: Request) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where result[String(key)] == nil {
            result[String(key)] = String(value)
        }
        return result
    }

    static func integer(_ parameters: [String: String], _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = parameters[name] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw BadRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    static func optionalInteger(_ parameters: [String: String], _ name: String) throws -> Int64? {
        guard let text = parameters[name] else { return nil }
        guard let number = Int64(text), number > 0 else { throw BadRequest("\(name) must be a positive whole number") }
        return number
    }

    static func name(_ parameters: [String: String], _ name: String) throws -> String? {
        guard let text = parameters[name], !text.isEmpty else { return nil }
        guard text.count <= 255 else { throw BadRequest("\(name) is too long") }
        return text
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Swift names in camelCase, JSON in snake_case (docs/api.md).
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = (try? encoder.encode(value)) ?? Data("{\"error\":\"encoding failed\"}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
