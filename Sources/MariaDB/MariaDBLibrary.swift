import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// MariaDB Connector/C (`libmariadb.so.3`), loaded at run time with `dlopen`.
///
/// Loading it lazily keeps the default build free of any system dependency: only a run that
/// uses a MySQL DSN needs the library, and one without it gets an error naming the package.
/// The library speaks to MariaDB and to MySQL 8/9 servers (caching_sha2_password included).
public struct MariaDBLibrary: @unchecked Sendable {
    // Function pointers into an immutable, process-wide library: safe to share.
    typealias Handle = OpaquePointer
    typealias Result = OpaquePointer

    let initialize: @convention(c) (Handle?) -> Handle?
    let options: @convention(c) (Handle, UInt32, UnsafeRawPointer?) -> Int32
    let realConnect:
        @convention(c) (
            Handle, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UInt32, UnsafePointer<CChar>?, UInt
        ) -> Handle?
    let close: @convention(c) (Handle) -> Void
    let realQuery: @convention(c) (Handle, UnsafePointer<CChar>, UInt) -> Int32
    let storeResult: @convention(c) (Handle) -> Result?
    let freeResult: @convention(c) (Result) -> Void
    let numFields: @convention(c) (Result) -> UInt32
    let fieldCount: @convention(c) (Handle) -> UInt32
    let fetchRow: @convention(c) (Result) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
    let fetchLengths: @convention(c) (Result) -> UnsafeMutablePointer<UInt>?
    let fetchFieldDirect: @convention(c) (Result, UInt32) -> UnsafeRawPointer?
    let errorNumber: @convention(c) (Handle) -> UInt32
    let errorMessage: @convention(c) (Handle) -> UnsafePointer<CChar>?
    let affectedRows: @convention(c) (Handle) -> UInt64
    let insertID: @convention(c) (Handle) -> UInt64
    let escape: @convention(c) (Handle, UnsafeMutablePointer<CChar>, UnsafePointer<CChar>, UInt) -> UInt
    let ping: @convention(c) (Handle) -> Int32
    let serverInit:
        @convention(c) (Int32, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32

    /// Option numbers from `enum mysql_option` in `<mariadb/mysql.h>`.
    enum Option: UInt32 {
        case connectTimeout = 0
        case setCharsetName = 7
        case readTimeout = 11
        case writeTimeout = 12
        case sslVerifyServerCert = 21
        case sslKey = 25
        case sslCert = 26
        case sslCA = 27
        case sslEnforce = 38
    }

    static let names = ["libmariadb.so.3", "libmariadb.so"]
    /// Names a library file to load instead (a non-standard install location).
    public static let pathVariable = "HA_SYNC_LIBMARIADB"

    private static let loaded = Mutex<Swift.Result<MariaDBLibrary, MariaDBError>?>(nil)

    /// The library, loaded and initialised once per process.
    static func shared() throws(MariaDBError) -> MariaDBLibrary {
        let result = loaded.withLock { cached in
            if let cached { return cached }
            let result: Swift.Result<MariaDBLibrary, MariaDBError>
            do {
                result = .success(try load())
            } catch let error as MariaDBError {
                result = .failure(error)
            } catch {
                result = .failure(MariaDBError(code: 0, message: "\(error)"))
            }
            cached = result
            return result
        }
        return try result.get()
    }

    private static func load() throws(MariaDBError) -> MariaDBLibrary {
        var handle: UnsafeMutableRawPointer?
        let candidates = getenv(pathVariable).map { [String(cString: $0)] } ?? names
        for name in candidates {
            handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)
            if handle != nil { break }
        }
        guard let handle else {
            throw MariaDBError(
                code: 0,
                message: "the MySQL audit store needs MariaDB Connector/C (\(candidates.joined(separator: " or "))), which could not be loaded: "
                    + "install the libmariadb3 package (apt-get install libmariadb3 on Debian/Ubuntu)")
        }
        func symbol<T>(_ name: String, as type: T.Type) throws(MariaDBError) -> T {
            guard let pointer = dlsym(handle, name) else {
                throw MariaDBError(code: 0, message: "libmariadb has no \(name): the installed MariaDB Connector/C is too old or not Connector/C")
            }
            return unsafeBitCast(pointer, to: type)
        }
        let library = MariaDBLibrary(
            initialize: try symbol("mysql_init", as: (@convention(c) (Handle?) -> Handle?).self),
            options: try symbol("mysql_options", as: (@convention(c) (Handle, UInt32, UnsafeRawPointer?) -> Int32).self),
            realConnect: try symbol(
                "mysql_real_connect",
                as: (@convention(c) (
                    Handle, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UInt32, UnsafePointer<CChar>?,
                    UInt
                ) -> Handle?).self),
            close: try symbol("mysql_close", as: (@convention(c) (Handle) -> Void).self),
            realQuery: try symbol("mysql_real_query", as: (@convention(c) (Handle, UnsafePointer<CChar>, UInt) -> Int32).self),
            storeResult: try symbol("mysql_store_result", as: (@convention(c) (Handle) -> Result?).self),
            freeResult: try symbol("mysql_free_result", as: (@convention(c) (Result) -> Void).self),
            numFields: try symbol("mysql_num_fields", as: (@convention(c) (Result) -> UInt32).self),
            fieldCount: try symbol("mysql_field_count", as: (@convention(c) (Handle) -> UInt32).self),
            fetchRow: try symbol("mysql_fetch_row", as: (@convention(c) (Result) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?).self),
            fetchLengths: try symbol("mysql_fetch_lengths", as: (@convention(c) (Result) -> UnsafeMutablePointer<UInt>?).self),
            fetchFieldDirect: try symbol("mysql_fetch_field_direct", as: (@convention(c) (Result, UInt32) -> UnsafeRawPointer?).self),
            errorNumber: try symbol("mysql_errno", as: (@convention(c) (Handle) -> UInt32).self),
            errorMessage: try symbol("mysql_error", as: (@convention(c) (Handle) -> UnsafePointer<CChar>?).self),
            affectedRows: try symbol("mysql_affected_rows", as: (@convention(c) (Handle) -> UInt64).self),
            insertID: try symbol("mysql_insert_id", as: (@convention(c) (Handle) -> UInt64).self),
            escape: try symbol(
                "mysql_real_escape_string", as: (@convention(c) (Handle, UnsafeMutablePointer<CChar>, UnsafePointer<CChar>, UInt) -> UInt).self),
            ping: try symbol("mysql_ping", as: (@convention(c) (Handle) -> Int32).self),
            serverInit: try symbol(
                "mysql_server_init",
                as: (@convention(c) (Int32, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?)
                    -> Int32)
                    .self)
        )
        // mysql_init initialises the library on first use, which is not thread-safe: do it here, once.
        guard library.serverInit(0, nil, nil) == 0 else {
            throw MariaDBError(code: 0, message: "MariaDB Connector/C failed to initialise")
        }
        return library
    }
}

/// An error from the MariaDB client library or server, as one line.
public struct MariaDBError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The client or server error number (`mysql_errno`), 0 for problems before a connection.
    public var code: UInt32
    public var message: String

    public init(code: UInt32, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { code == 0 ? message : "\(message) (error \(code))" }

    /// Errors that mean the server is not there or went away, as opposed to a bad query.
    public var isConnectionLoss: Bool {
        // CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR, CR_SERVER_GONE_ERROR, CR_SERVER_LOST, ER_NET_READ_INTERRUPTED...
        [2002, 2003, 2006, 2013, 2026, 1158, 1159, 1160, 1161].contains(code)
    }
}
