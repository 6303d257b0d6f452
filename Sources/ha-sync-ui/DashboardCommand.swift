import ArgumentParser
import AuditDSN
import AuditLog
import Dashboard
import Foundation
import Hummingbird
import Logging

/// `ha-sync-ui`: the dashboard over the audit store.
@main
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ha-sync-ui",
        abstract: "Serve the HA Sync dashboard: pair status, recent runs, operations, metrics.",
        discussion:
            "Reads the audit store (never writes to it). Routes: / · /how-it-works · /api/pairs · /api/iterations · /api/operations · /healthz · /readyz · /metrics. See docs/api.md."
    )

    @Option(help: "Address to listen on.")
    var host = "0.0.0.0"

    @Option(help: "Port to listen on.")
    var port = 8080

    @Option(
        name: .customLong("db-dsn"),
        help: ArgumentHelp("Audit database, as for ha-sync. Default: $HA_SYNC_DB_DSN, else SQLite in --log-dir.", valueName: "dsn"))
    var dbDSN: String?

    @Option(name: .customLong("log-dir"), help: ArgumentHelp("Where the default SQLite database lives.", valueName: "dir"))
    var logDir = "/var/log/ha-sync"

    @Option(
        name: .customLong("stale-after"),
        help: ArgumentHelp("Mark a pair direction stale when its last successful run is older than this (e.g. 3h, 90m).", valueName: "age"))
    var staleAfter = "3h"

    @Option(name: .customLong("refresh-seconds"), help: "How often the page refreshes itself.")
    var refreshSeconds = 10

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535") }
        guard (1...3600).contains(refreshSeconds) else { throw ValidationError("--refresh-seconds must be between 1 and 3600") }
        guard AuditStores.parseDuration(staleAfter).map({ $0 > 0 }) == true else {
            throw ValidationError("--stale-after must be a duration such as 3h or 90m, got '\(staleAfter)'")
        }
    }

    func run() async throws {
        var logger = Logger(label: "ha-sync-ui")
        logger.logLevel = .info
        let dsn: DatabaseDSN
        do {
            dsn = AuditStores.resolve(try AuditStores.dsn(option: dbDSN, environment: ProcessInfo.processInfo.environment), logDirectory: logDir)
        } catch {
            throw ValidationError("\(error)")
        }
        logger.info("serving the dashboard", metadata: ["address": "\(host):\(port)", "store": "\(dsn)"])
        let storeLogger = logger
        let stores = StoreProvider(logger: logger) { try await AuditStores.open(dsn, readOnly: true, logger: storeLogger) }
        let router = DashboardRouter.build(
            configuration: DashboardConfiguration(staleAfterSeconds: AuditStores.parseDuration(staleAfter) ?? 10_800, refreshSeconds: refreshSeconds),
            stores: stores)
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "ha-sync-ui"),
            logger: logger)
        try await app.runService()
        await stores.close()
    }
}
