public import ArgumentParser
import Foundation
import Hummingbird
import Logging
import RemoteProtocol
import RemoteServer

/// `ha-sync serve`: exports local folders to ha-sync clients over HTTP/2 and TLS.
public struct ServeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ha-sync serve",
        abstract: "Export local folders to ha-sync clients (hasync://HOST:PORT/ROOT) over HTTP/2 and TLS, with a bearer token.",
        discussion: """
            Each --root is a folder clients can list, read and (unless it ends in :ro) write, under \
            the same rules as a local sync: no path leaves its root, symlinks are never followed, \
            every file is written to a temporary name and renamed into place once its SHA-256 matched. \
            The token file and the certificate files are re-read when they change: rotate them \
            without a restart. GET /healthz and GET /metrics need no token. See docs/operations.md.
            """
    )

    @Option(help: ArgumentHelp("Address to listen on.", valueName: "host:port"))
    var listen = "0.0.0.0:7443"

    @Option(
        name: .customLong("root"),
        help: ArgumentHelp("A folder to export: NAME=PATH, or NAME=PATH:ro for read-only. Repeat for several.", valueName: "name=path"))
    var roots: [String] = []

    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("PEM certificate chain of the server.", valueName: "file"))
    var tlsCert: String

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("PEM private key of the server.", valueName: "file"))
    var tlsKey: String

    @Option(
        name: .customLong("token-file"),
        help: ArgumentHelp("File with the accepted tokens, one per line (at least 16 characters each).", valueName: "file"))
    var tokenFile: String

    @Option(name: .customLong("io-threads"), help: ArgumentHelp("Threads for file operations.", valueName: "n"))
    var ioThreads = 16

    @Option(name: .customLong("log-format"), help: "Log lines as text or json.")
    var logFormat: OutputFormat = .text

    @Flag(name: .shortAndLong, help: "Log each refused request and more.")
    var verbose = false

    public init() {}

    public func validate() throws {
        guard !roots.isEmpty else { throw ValidationError("give at least one --root NAME=PATH") }
        guard (1...256).contains(ioThreads) else { throw ValidationError("--io-threads must be from 1 to 256") }
    }

    static func parseListen(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--listen takes HOST:PORT, e.g. 0.0.0.0:7443, got '\(text)'")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    public func run() async throws {
        let console = Console.shared
        var logger = Logger(label: "ha-sync-serve") { label in
            StderrLogHandler(label: label, format: logFormat, console: console)
        }
        logger.logLevel = verbose ? .debug : .info
        let (host, port) = try Self.parseListen(listen)
        let server: RemoteServer
        do {
            let exported = try roots.map { try ExportedRoot(parsing: $0) }
            server = RemoteServer(
                configuration: .init(host: host, port: port, roots: exported, ioThreads: ioThreads),
                tokens: try TokenFile(path: tokenFile),
                certificates: try CertificateFiles(certificatePath: tlsCert, keyPath: tlsKey, logger: logger),
                logger: logger)
        } catch let error as ServeError {
            logger.error("\(error)")
            throw ExitCode.failure
        }
        let names = server.configuration.roots.map { "\($0.name)\($0.readOnly ? " (read-only)" : "")" }.joined(separator: ", ")
        let application: any ApplicationProtocol
        let startLogger = logger
        do {
            application = try server.makeApplication { bound in
                let logger = startLogger
                logger.info("serving", metadata: ["address": "\(host):\(bound)", "roots": "\(names)"])
            }
        } catch {
            logger.error("\(error)")
            throw ExitCode.failure
        }
        // Runs until SIGTERM or SIGINT, then finishes the requests in flight.
        try await application.runService()
    }
}
