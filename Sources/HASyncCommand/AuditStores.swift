import AuditLog
import Foundation
import Logging

/// Opens the audit store a DSN names.
enum AuditStores {
    /// The DSN in effect: `--db-dsn`, else `$HA_SYNC_DB_DSN`, else SQLite in the log directory.
    static func resolve(flag: String?, logDirectory: String) throws -> DatabaseDSN {
        if let text = flag ?? ProcessInfo.processInfo.environment["HA_SYNC_DB_DSN"], !text.isEmpty {
            return try DatabaseDSN(parsing: text)
        }
        let directory = logDirectory.hasPrefix("/") ? logDirectory : FileManager.default.currentDirectoryPath + "/" + logDirectory
        return .sqlite(path: (directory.hasSuffix("/") ? directory : directory + "/") + "ha-sync.db")
    }

    static func open(_ dsn: DatabaseDSN, logger: Logger) async throws -> any AuditStore {
        switch dsn {
        case .sqlite(let path):
            return try await SQLiteAuditStore.open(path: path, logger: logger)
        case .mysql:
            throw AuditError("the MySQL audit store is not part of this build yet (\(dsn))")
        }
    }
}
