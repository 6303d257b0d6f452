import Foundation
import SyncTestSupport

/// A private MariaDB server for tests: its own data directory and socket, a free port on
/// 127.0.0.1, started with Debian's `mariadbd` and stopped (and deleted) by the test.
///
/// The server binaries come from the `mariadb-server` package, which `.ci/run` installs;
/// without them the tests fail with a message that says so, rather than being skipped.
public final class MariaDBServer: @unchecked Sendable {
    public let directory: String
    public let port: Int
    public let socket: String
    public let extraArguments: [String]
    private var process: Process?
    private let lock = NSLock()
    /// The test user every database is granted to. Its password has the characters that
    /// break naive DSN parsing.
    public static let user = "hasync"
    public static let password = "p@ss:w/rd\"x%2F"

    private init(directory: String, port: Int, extraArguments: [String]) {
        self.directory = directory
        self.port = port
        self.socket = directory + "/mysqld.sock"
        self.extraArguments = extraArguments
    }

    /// The user the tests run as: the server runs as that user too, so the tests work as
    /// root (CI) and as a normal user.
    static let osUser: String = {
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return "root" }
        return String(cString: name)
    }()

    /// Initialises a data directory and starts the server.
    public static func start(extraArguments: [String] = []) async throws -> MariaDBServer {
        for tool in ["/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db", "/usr/bin/mariadb"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            throw ServerError("\(tool) is missing: install Debian's mariadb-server package (.ci/run does)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ha-sync-mariadb-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // A temporary directory of its own: servers bootstrapping side by side in /tmp can collide on temp-table names.
        try FileManager.default.createDirectory(atPath: directory + "/tmp", withIntermediateDirectories: true)
        let server = MariaDBServer(directory: directory, port: try LoopbackPort.free(), extraArguments: extraArguments)
        let install = try await run(
            "/usr/bin/mariadb-install-db",
            [
                "--no-defaults", "--datadir=\(directory)/data", "--user=\(Self.osUser)", "--auth-root-authentication-method=normal", "--skip-test-db",
                "--tmpdir=\(directory)/tmp",
            ])
        guard install.status == 0 else { throw ServerError("mariadb-install-db failed: \(install.output)") }
        try await server.launch()
        try await server.admin(
            """
            CREATE USER '\(user)'@'127.0.0.1' IDENTIFIED BY '\(password.replacingOccurrences(of: "\"", with: "\\\""))';
            CREATE USER '\(user)'@'localhost' IDENTIFIED BY '\(password.replacingOccurrences(of: "\"", with: "\\\""))';
            GRANT PROCESS ON *.* TO '\(user)'@'127.0.0.1';
            """)
        return server
    }

    /// Starts the server process and waits until it answers.
    public func launch() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/mariadbd")
        process.arguments =
            [
                "--no-defaults", "--datadir=\(directory)/data", "--socket=\(socket)", "--port=\(port)", "--bind-address=127.0.0.1",
                "--user=\(Self.osUser)", "--skip-name-resolve", "--pid-file=\(directory)/mysqld.pid", "--log-error=\(directory)/error.log",
                "--tmpdir=\(directory)/tmp", "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M", "--skip-log-bin",
            ] + extraArguments
        process.standardOutput = DevNull.writing()
        process.standardError = DevNull.writing()
        try process.run()
        lock.withLock { self.process = process }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if (try? await admin("SELECT 1")) != nil { return }
            if !process.isRunning {
                throw ServerError("mariadbd exited: \((try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ServerError("mariadbd did not start within 60 s")
    }

    /// Stops the server cleanly and waits for it to exit (off the task pool: InnoDB's shutdown
    /// takes seconds that the tests running beside must not lose).
    public func stop() async {
        guard let process = lock.withLock({ self.process }) else { return }
        kill(process.processIdentifier, SIGCONT)
        process.terminate()
        await OffThePool.waitForExit(process)
        lock.withLock { self.process = nil }
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing answers.
    public func pause() {
        if let process = lock.withLock({ self.process }) { kill(process.processIdentifier, SIGSTOP) }
    }

    public func resume() {
        if let process = lock.withLock({ self.process }) { kill(process.processIdentifier, SIGCONT) }
    }

    deinit {
        // Not waited for here (a deinit may run on the task pool): a thread of its own waits
        // for the shutdown, then removes the data directory.
        let directory = self.directory
        guard let process = lock.withLock({ self.process }) else {
            try? FileManager.default.removeItem(atPath: directory)
            return
        }
        kill(process.processIdentifier, SIGCONT)
        process.terminate()
        OffThePool.whenExited(process) { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Runs SQL as root over the socket; returns the output (tab-separated, no headers).
    @discardableResult
    public func admin(_ sql: String, database: String? = nil) async throws -> String {
        var arguments = ["--no-defaults", "--socket=\(socket)", "-uroot", "--batch", "--skip-column-names", "-e", sql]
        if let database { arguments.append(database) }
        let result = try await Self.run("/usr/bin/mariadb", arguments)
        guard result.status == 0 else { throw ServerError("mariadb client: \(result.output)") }
        return result.output
    }

    /// A new, empty database the test user may use.
    public func createDatabase() async throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try await admin(
            """
            CREATE DATABASE \(name);
            GRANT ALL ON \(name).* TO '\(Self.user)'@'127.0.0.1';
            GRANT ALL ON \(name).* TO '\(Self.user)'@'localhost';
            """)
        return name
    }

    /// The DSN for `database`, in the Go driver's form, with short timeouts for tests.
    public func dsn(database: String, password: String = MariaDBServer.password, parameters: String = "timeout=5s&readTimeout=5s&writeTimeout=5s")
        -> String
    {
        "\(Self.user):\(password)@tcp(127.0.0.1:\(port))/\(database)?\(parameters)"
    }

    static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let result = try await CapturedProcess.run(executable, arguments)
        return (result.status, result.output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// A test server that could not be set up.
public struct ServerError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// One server shared by the tests of a process that only need a database of their own.
public enum SharedMariaDB {
    private static let server = Task { try await MariaDBServer.start() }

    public static func get() async throws -> MariaDBServer {
        try await server.value
    }
}
