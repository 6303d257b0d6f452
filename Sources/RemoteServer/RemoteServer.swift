public import Hummingbird
public import Logging
import NIOCore
import NIOPosix
import RemoteProtocol
import SyncFileSystem

/// `ha-sync serve`: exports named roots over HTTP/2 and TLS to ha-sync clients holding a token.
///
/// Every request but `/healthz` and `/metrics` needs `Authorization: Bearer TOKEN`. File
/// operations run on a pool of I/O threads, as in the engine; streamed requests (batched
/// reads and writes) pass their bytes through bounded pipes, so a slow client or disk
/// holds a few MiB per stream, never a whole file.
public struct RemoteServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var roots: [ExportedRoot]
        public var ioThreads: Int

        public init(host: String = "0.0.0.0", port: Int = 7443, roots: [ExportedRoot], ioThreads: Int = 16) {
            self.host = host
            self.port = port
            self.roots = roots
            self.ioThreads = ioThreads
        }
    }

    public let configuration: Configuration
    public let tokens: TokenFile
    public let certificates: CertificateFiles
    public let logger: Logger

    public init(configuration: Configuration, tokens: TokenFile, certificates: CertificateFiles, logger: Logger) {
        self.configuration = configuration
        self.tokens = tokens
        self.certificates = certificates
        self.logger = logger
    }

    /// Opens the roots (each must be an existing directory) and builds the application,
    /// a Service to run in a ServiceGroup. `onRunning` gets the bound port.
    public func makeApplication(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        var handlers: [String: RootHandler] = [:]
        for root in configuration.roots {
            guard handlers[root.name] == nil else { throw ServeError("root '\(root.name)' is given twice") }
            do {
                handlers[root.name] = RootHandler(root: root, opened: try OpenedRoot(path: root.path))
            } catch {
                throw ServeError("root '\(root.name)': \(root.path) cannot be used: \(error)")
            }
        }
        let pool = NIOThreadPool(numberOfThreads: configuration.ioThreads)
        pool.start()
        let router = RemoteServerRouter(handlers: handlers, tokens: tokens, pool: pool, logger: logger).makeRouter()
        let tls = certificates.serverConfiguration()
        return Application(
            router: router,
            server: .peer(tlsConfiguration: tls),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "ha-sync"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}
