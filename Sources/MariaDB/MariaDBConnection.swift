#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where and how to connect.
public struct MariaDBConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// A Unix socket instead of host and port.
    public var socket: String?
    public var user: String
    public var password: String
    public var database: String
    /// Seconds to wait for the connection to be established.
    public var connectTimeout: Int = 10
    /// Seconds to wait for a reply, and to send a request, before giving up.
    public var readTimeout: Int = 30
    public var writeTimeout: Int = 30
    public var tls: TLSMode = .preferred
    /// CA file for `verifyIdentity`.
    public var tlsCAFile: String?

    public enum TLSMode: String, Sendable, Hashable {
        /// The library's default: TLS when the server offers it, unverified.
        case preferred
        /// TLS required, certificate verified against the CA (and the host name).
        case verifyIdentity
        /// TLS required, certificate not verified.
        case required
        /// No TLS.
        case disabled
    }

    public init(host: String, port: Int = 3306, socket: String? = nil, user: String, password: String, database: String) {
        self.host = host
        self.port = port
        self.socket = socket
        self.user = user
        self.password = password
        self.database = database
    }

    /// `host:port/database` or `unix(path)/database`: how to name the server in messages (never the password).
    public var displayName: String {
        (socket.map { "unix(\($0))" } ?? "\(host):\(port)") + "/\(database)"
    }
}

/// One connection to a MariaDB or MySQL server. Every call blocks, so callers run it on a
/// thread of their own (never Swift's cooperative pool); it is not safe to use from two
/// threads at once.
public final class MariaDBConnection: @unchecked Sendable {
    private let library: MariaDBLibrary
    private var handle: OpaquePointer?
    public let configuration: MariaDBConfiguration

    /// A result set: column names and rows of optional strings (`nil` for SQL NULL).
    public struct Rows: Sendable {
        public var columns: [String]
        public var rows: [[String?]]

        /// The value of `column` in row `index`.
        public func value(_ column: String, row index: Int) -> String? {
            guard let position = columns.firstIndex(of: column) else { return nil }
            return rows[index][position]
        }
    }

    /// Connects, with utf8mb4 and the configured timeouts and TLS.
    public init(configuration: MariaDBConfiguration) throws(MariaDBError) {
        self.configuration = configuration
        library = try MariaDBLibrary.shared()
        guard let handle = library.initialize(nil) else { throw MariaDBError(code: 0, message: "out of memory creating a MariaDB connection") }
        self.handle = handle
        var connectTimeout = UInt32(configuration.connectTimeout)
        var readTimeout = UInt32(configuration.readTimeout)
        var writeTimeout = UInt32(configuration.writeTimeout)
        _ = library.options(handle, MariaDBLibrary.Option.connectTimeout.rawValue, &connectTimeout)
        _ = library.options(handle, MariaDBLibrary.Option.readTimeout.rawValue, &readTimeout)
        _ = library.options(handle, MariaDBLibrary.Option.writeTimeout.rawValue, &writeTimeout)
        _ = "utf8mb4".withCString { library.options(handle, MariaDBLibrary.Option.setCharsetName.rawValue, $0) }
        var yes: UInt8 = 1
        var no: UInt8 = 0
        switch configuration.tls {
        case .preferred:
            break
        case .disabled:
            _ = library.options(handle, MariaDBLibrary.Option.sslVerifyServerCert.rawValue, &no)
        case .required:
            _ = library.options(handle, MariaDBLibrary.Option.sslEnforce.rawValue, &yes)
            _ = library.options(handle, MariaDBLibrary.Option.sslVerifyServerCert.rawValue, &no)
        case .verifyIdentity:
            _ = library.options(handle, MariaDBLibrary.Option.sslEnforce.rawValue, &yes)
            _ = library.options(handle, MariaDBLibrary.Option.sslVerifyServerCert.rawValue, &yes)
        }
        if let ca = configuration.tlsCAFile {
            _ = ca.withCString { library.options(handle, MariaDBLibrary.Option.sslCA.rawValue, $0) }
        }
        let connected = configuration.host.withCString { host in
            configuration.user.withCString { user in
                configuration.password.withCString { password in
                    configuration.database.withCString { database in
                        withOptionalCString(configuration.socket) { socket in
                            library.realConnect(
                                handle, configuration.socket == nil ? host : nil, user, password, database, UInt32(configuration.port), socket, 0)
                        }
                    }
                }
            }
        }
        if connected == nil {
            let error = lastError()
            library.close(handle)
            self.handle = nil
            throw error
        }
    }

    deinit {
        if let handle { library.close(handle) }
    }

    /// Closes the connection; later calls fail.
    public func close() {
        if let handle { library.close(handle) }
        handle = nil
    }

    /// Runs a statement that returns no rows; returns the number of affected rows.
    @discardableResult
    public func execute(_ sql: String) throws(MariaDBError) -> UInt64 {
        let handle = try liveHandle()
        try send(sql, on: handle)
        // Drain a result set if the statement produced one anyway.
        if library.fieldCount(handle) > 0, let result = library.storeResult(handle) { library.freeResult(result) }
        return library.affectedRows(handle)
    }

    /// Runs a query and returns all its rows.
    public func query(_ sql: String) throws(MariaDBError) -> Rows {
        let handle = try liveHandle()
        try send(sql, on: handle)
        guard let result = library.storeResult(handle) else {
            if library.fieldCount(handle) == 0 { return Rows(columns: [], rows: []) }
            throw lastError()
        }
        defer { library.freeResult(result) }
        let count = Int(library.numFields(result))
        var columns: [String] = []
        for index in 0..<count {
            // MYSQL_FIELD starts with `char *name`.
            let field = library.fetchFieldDirect(result, UInt32(index))
            let name = field?.load(as: UnsafePointer<CChar>?.self).map { String(cString: $0) } ?? "column\(index)"
            columns.append(name)
        }
        var rows: [[String?]] = []
        while let row = library.fetchRow(result) {
            let lengths = library.fetchLengths(result)
            var values: [String?] = []
            values.reserveCapacity(count)
            for index in 0..<count {
                if let cell = row[index], let lengths {
                    let bytes = UnsafeRawBufferPointer(start: cell, count: Int(lengths[index]))
                    values.append(String(decoding: bytes, as: UTF8.self))
                } else {
                    values.append(nil)
                }
            }
            rows.append(values)
        }
        return Rows(columns: columns, rows: rows)
    }

    /// `text` as an SQL string literal, quotes included, escaped for the connection's charset.
    public func literal(_ text: String?) throws(MariaDBError) -> String {
        guard let text else { return "NULL" }
        let handle = try liveHandle()
        var source = Array(text.utf8CString)
        let length = source.count - 1
        var destination = [CChar](repeating: 0, count: length * 2 + 1)
        let written = source.withUnsafeMutableBufferPointer { input in
            destination.withUnsafeMutableBufferPointer { output in
                library.escape(handle, output.baseAddress!, input.baseAddress!, UInt(length))
            }
        }
        return "'" + String(decoding: destination[..<Int(written)].map { UInt8(bitPattern: $0) }, as: UTF8.self) + "'"
    }

    /// The id generated by the last INSERT.
    public var lastInsertID: UInt64 {
        handle.map { library.insertID($0) } ?? 0
    }

    /// Checks that the server still answers.
    public func ping() throws(MariaDBError) {
        let handle = try liveHandle()
        if library.ping(handle) != 0 { throw lastError() }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func withTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("START TRANSACTION")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    private func liveHandle() throws(MariaDBError) -> OpaquePointer {
        guard let handle else { throw MariaDBError(code: 2006, message: "the MariaDB connection is closed") }
        return handle
    }

    private func send(_ sql: String, on handle: OpaquePointer) throws(MariaDBError) {
        var sql = sql
        let status = sql.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { library.realQuery(handle, $0.baseAddress!, UInt($0.count)) }
        }
        if status != 0 { throw lastError() }
    }

    private func lastError() -> MariaDBError {
        guard let handle else { return MariaDBError(code: 2006, message: "the MariaDB connection is closed") }
        let message = library.errorMessage(handle).map { String(cString: $0) } ?? "unknown error"
        return MariaDBError(code: library.errorNumber(handle), message: message)
    }
}

private func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}
