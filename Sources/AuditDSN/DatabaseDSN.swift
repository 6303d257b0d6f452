import Foundation

/// Where the audit trail goes, parsed from `--db-dsn` / `HA_SYNC_DB_DSN`.
///
/// Accepted forms: `sqlite:///absolute/path.db`, `mysql://user:pass@host:port/db?params` and the
/// Go driver's `user:pass@tcp(host:port)/db?params`. Neither ``description`` nor any parse
/// error ever contains the password.
public enum DatabaseDSN: Sendable, Hashable, CustomStringConvertible {
    case sqlite(path: String)
    case mysql(MySQLEndpoint)

    public struct MySQLEndpoint: Sendable, Hashable {
        public var user: String
        public var password: String
        public var host: String
        public var port: Int
        /// A Unix socket path instead of host and port (`unix(/path)` in the Go form).
        public var socket: String?
        public var database: String
        public var parameters: [String: String]
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String {
            "invalid database DSN (\(reason)); expected sqlite:///path/to.db, mysql://user:pass@host:3306/db or user:pass@tcp(host:3306)/db"
        }
    }

    public init(parsing text: String) throws {
        if text.hasPrefix("sqlite://") {
            let path = String(text.dropFirst("sqlite://".count))
            guard path.hasPrefix("/") else {
                throw ParseError(reason: "the sqlite path must be absolute, as in sqlite:///var/log/ha-sync/ha-sync.db")
            }
            self = .sqlite(path: path)
        } else if text.hasPrefix("mysql://") {
            self = .mysql(try Self.parseURL(String(text.dropFirst("mysql://".count))))
        } else if text.contains("@tcp(") || text.contains("@unix(") || text.hasPrefix("tcp(") {
            self = .mysql(try Self.parseGo(text))
        } else {
            throw ParseError(reason: "unknown scheme")
        }
    }

    public var description: String {
        switch self {
        case .sqlite(let path):
            return "sqlite://\(path)"
        case .mysql(let endpoint):
            let address = endpoint.socket.map { "unix(\($0))" } ?? "\(endpoint.host):\(endpoint.port)"
            let credentials = endpoint.password.isEmpty ? endpoint.user : "\(endpoint.user):***"
            return "mysql://\(credentials)@\(address)/\(endpoint.database)"
        }
    }

    /// `user:pass@host:port/db?params`; user and password may be percent-encoded.
    private static func parseURL(_ rest: String) throws -> MySQLEndpoint {
        // The password may contain '@' or '/': the credentials end at the last '@'.
        guard let at = rest.lastIndex(of: "@") else { throw ParseError(reason: "missing user@host") }
        let (user, password) = try splitCredentials(String(rest[..<at]), decode: true)
        let afterAt = rest[rest.index(after: at)...]
        let (address, database, parameters) = try splitPath(String(afterAt))
        let (host, port) = try splitHostPort(address)
        return MySQLEndpoint(user: user, password: password, host: host, port: port, socket: nil, database: database, parameters: parameters)
    }

    /// `user:pass@tcp(host:port)/db?params` or `user:pass@unix(/path)/db`.
    private static func parseGo(_ text: String) throws -> MySQLEndpoint {
        guard let marker = text.range(of: "@tcp(", options: .backwards) ?? text.range(of: "@unix(", options: .backwards) else {
            throw ParseError(reason: "missing user@tcp(host:port)")
        }
        let (user, password) = try splitCredentials(String(text[..<marker.lowerBound]), decode: false)
        let isUnix = text[marker].hasPrefix("@unix")
        let rest = text[marker.upperBound...]
        guard let close = rest.firstIndex(of: ")") else { throw ParseError(reason: "unclosed parenthesis") }
        let address = String(rest[..<close])
        let (_, database, parameters) = try splitPath(String(rest[close...].dropFirst()), requireAddress: false)
        if isUnix {
            return MySQLEndpoint(
                user: user, password: password, host: "localhost", port: 3306, socket: address, database: database, parameters: parameters)
        }
        let (host, port) = try splitHostPort(address)
        return MySQLEndpoint(user: user, password: password, host: host, port: port, socket: nil, database: database, parameters: parameters)
    }

    /// `host` or `host:port` (port 3306 when absent).
    private static func splitHostPort(_ address: String) throws -> (String, Int) {
        var host = address
        var port = 3306
        if let colon = address.lastIndex(of: ":"), !address.hasSuffix("]") {
            host = String(address[..<colon])
            guard let value = Int(address[address.index(after: colon)...]), (1...65535).contains(value) else {
                throw ParseError(reason: "bad port")
            }
            port = value
        }
        guard !host.isEmpty else { throw ParseError(reason: "missing host") }
        return (host, port)
    }

    private static func splitCredentials(_ text: String, decode: Bool) throws -> (String, String) {
        let user: Substring
        let password: Substring
        if let colon = text.firstIndex(of: ":") {
            user = text[..<colon]
            password = text[text.index(after: colon)...]
        } else {
            user = Substring(text)
            password = ""
        }
        guard !user.isEmpty else { throw ParseError(reason: "missing user") }
        guard decode else { return (String(user), String(password)) }
        guard let decodedUser = percentDecode(user), let decodedPassword = percentDecode(password) else {
            throw ParseError(reason: "bad percent-encoding in the credentials")
        }
        return (decodedUser, decodedPassword)
    }

    /// Splits `[address]/database[?k=v&...]`.
    private static func splitPath(_ text: String, requireAddress: Bool = true) throws -> (String, String, [String: String]) {
        var body = Substring(text)
        var parameters: [String: String] = [:]
        if let question = body.firstIndex(of: "?") {
            for pair in body[body.index(after: question)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                parameters[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            body = body[..<question]
        }
        guard let slash = body.firstIndex(of: "/") else { throw ParseError(reason: "missing /database") }
        let address = String(body[..<slash])
        let database = String(body[body.index(after: slash)...])
        guard !database.isEmpty else { throw ParseError(reason: "missing database name") }
        if requireAddress && address.isEmpty { throw ParseError(reason: "missing host") }
        return (address, database, parameters)
    }

    private static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
