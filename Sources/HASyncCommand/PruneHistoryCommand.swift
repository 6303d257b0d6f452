public import ArgumentParser
import AuditDSN
import AuditLog
import Foundation
import Logging
import SyncCore
import SyncRunner

/// `ha-sync prune-history`: deletes old runs and their operations from the audit store.
public struct PruneHistoryCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ha-sync prune-history",
        abstract: "Delete audit rows (runs and their operations) older than a given age, in batches.",
        discussion: "Meant for a weekly CronJob. Exit status: 0 done, 1 the store could not be used, 64 usage error."
    )

    @Option(
        name: .customLong("older-than"), help: ArgumentHelp("Age of the runs to delete: a number with s, m, h, d or w, e.g. 30d.", valueName: "age"))
    var olderThan: String

    @Option(
        name: .customLong("db-dsn"),
        help: ArgumentHelp("Audit database, as for ha-sync. Default: $HA_SYNC_DB_DSN, else SQLite in --log-dir.", valueName: "dsn"))
    var dbDSN: String?

    @Option(name: .customLong("log-dir"), help: ArgumentHelp("Where the default SQLite database lives.", valueName: "dir"))
    var logDir: String = "/var/log/ha-sync"

    @Option(
        name: .customLong("batch-size"),
        help: ArgumentHelp("Rows deleted per statement, so the database is never locked for long.", valueName: "rows"))
    var batchSize: Int = 5000

    public init() {}

    public mutating func validate() throws {
        guard Self.parseAge(olderThan) != nil else {
            throw ValidationError("--older-than must be a positive number followed by s, m, h, d or w (e.g. 30d), got '\(olderThan)'")
        }
        guard (1...1_000_000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 1000000") }
    }

    public func run() async throws {
        let logger = Logger(label: "ha-sync") { StderrLogHandler(label: $0, format: .text, console: Console.shared) }
        let seconds = Self.parseAge(olderThan)!
        let given: DatabaseDSN?
        do {
            given = try AuditStores.dsn(option: dbDSN, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError("\(error)")
        }
        do {
            let store = try await AuditStores.open(AuditStores.resolve(given, logDirectory: logDir), logger: logger)
            let result: PruneResult
            let cutoff: Timestamp
            do {
                (result, cutoff) = try await store.pruneHistory(olderThan: .seconds(seconds), clock: SystemWallClock(), batchSize: batchSize)
            } catch {
                await store.close()
                throw error
            }
            await store.close()
            Console.shared.out(
                "deleted \(result.iterations) runs and \(result.operations) operations that started before \(SQLTime.format(cutoff)) UTC")
        } catch {
            logger.error("prune-history failed: \(error)")
            throw ExitCode(ExitStatus.failed.rawValue)
        }
    }

    /// Seconds in `30d`, `12h`, `90m`, `2w`, `3600s`; `nil` if malformed.
    static func parseAge(_ text: String) -> Int64? {
        guard let unit = text.last, let value = Int64(text.dropLast()), value > 0 else { return nil }
        let scale: Int64? =
            switch unit {
            case "s": 1
            case "m": 60
            case "h": 3600
            case "d": 86_400
            case "w": 604_800
            default: nil
            }
        return scale.map { value * $0 }
    }
}
