public import AuditLog
import AuditMySQL
import Foundation
public import Logging
import MariaDB

/// Opens the audit store a DSN names.
public enum AuditStores {
    /// The DSN `--db-dsn` names, else `$HA_SYNC_DB_DSN`, parsed once; `nil` when neither is set.
    /// The error names where the DSN came from, never its password.
    public static func dsn(option flag: String?, environment: [String: String]) throws -> DatabaseDSN? {
        guard let text = flag ?? environment["HA_SYNC_DB_DSN"], !text.isEmpty else { return nil }
        do {
            return try DatabaseDSN(parsing: text)
        } catch {
            throw AuditError("\(flag == nil ? "HA_SYNC_DB_DSN" : "--db-dsn"): \(error)")
        }
    }

    /// The DSN in effect: the one given, else SQLite in the log directory.
    public static func resolve(_ dsn: DatabaseDSN?, logDirectory: String) -> DatabaseDSN {
        if let dsn { return dsn }
        let directory = logDirectory.hasPrefix("/") ? logDirectory : FileManager.default.currentDirectoryPath + "/" + logDirectory
        return .sqlite(path: (directory.hasSuffix("/") ? directory : directory + "/") + "ha-sync.db")
    }

    /// Opens the store a DSN names; `readOnly` for readers such as the dashboard.
    public static func open(_ dsn: DatabaseDSN, readOnly: Bool = false, logger: Logger) async throws -> any AuditStore {
        switch dsn {
        case .sqlite(let path):
            return try await SQLiteAuditStore.open(path: path, readOnly: readOnly, logger: logger)
        case .mysql(let endpoint):
            return try await MySQLAuditStore.open(configuration: try configuration(endpoint), readOnly: readOnly, logger: logger)
        }
    }

    /// Connection settings from a DSN's endpoint and parameters (the Go driver's names:
    /// `timeout`, `readTimeout`, `writeTimeout`, `tls`; also `ssl-mode` and `ssl-ca`).
    static func configuration(_ endpoint: DatabaseDSN.MySQLEndpoint) throws -> MariaDBConfiguration {
        var configuration = MariaDBConfiguration(
            host: endpoint.host, port: endpoint.port, socket: endpoint.socket,
            user: endpoint.user, password: endpoint.password, database: endpoint.database)
        func seconds(_ name: String) throws -> Int? {
            guard let text = endpoint.parameters[name] else { return nil }
            guard let value = parseDuration(text) else {
                throw AuditError("DSN parameter \(name)=\(text) is not a duration such as 10s, 500ms or 2m")
            }
            return max(1, value)
        }
        configuration.connectTimeout = try seconds("timeout") ?? 10
        configuration.readTimeout = try seconds("readTimeout") ?? 30
        configuration.writeTimeout = try seconds("writeTimeout") ?? 30
        switch (endpoint.parameters["tls"] ?? endpoint.parameters["ssl-mode"])?.lowercased() {
        case nil, "preferred": configuration.tls = .preferred
        case "true", "verify_identity", "verify_ca": configuration.tls = .verifyIdentity
        case "skip-verify", "required": configuration.tls = .required
        case "false", "disabled": configuration.tls = .disabled
        case let other?: throw AuditError("DSN parameter tls=\(other) is not one of true, skip-verify, preferred, false")
        }
        configuration.tlsCAFile = endpoint.parameters["ssl-ca"] ?? endpoint.parameters["tls-ca"]
        return configuration
    }

    /// Whole seconds in `10s`, `500ms` (rounded up), `2m`, `1h`, `1d`, `1w` or a bare number of seconds.
    public static func parseDuration(_ text: String) -> Int? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value >= 0 else { return nil }
            return Int((value * scale).rounded(.up))
        }
        return Int(text)
    }
}
