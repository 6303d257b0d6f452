import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
import SyncTestSupport

/// A real `ha-sync serve` on 127.0.0.1, with its own private CA, certificate and token,
/// made by `ha-sync certificate`.
final class ServeProcess: @unchecked Sendable {
    let directory: String
    let port: Int
    let tokenFile: String
    let token: String
    let caFile: String
    let roots: [String]
    let certificateName: String
    private(set) var process: HASyncProcess?
    private(set) var logURL: URL

    /// Makes the PKI and the token in `directory`; `start()` launches the server.
    init(directory: String, roots: [String], certificateName: String = "server", certificateArguments: [String] = []) async throws {
        self.directory = directory
        self.roots = roots
        self.certificateName = certificateName
        port = try LoopbackPort.free()
        let made = try await HASyncProcess.run(
            ["certificate", "--dir", directory + "/pki", "--name", certificateName, "--host", "127.0.0.1", "--host", "localhost"]
                + certificateArguments)
        guard made.status == 0 else { throw TestFailure("ha-sync certificate failed: \(made.stderr)") }
        caFile = directory + "/pki/ca.pem"
        token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        tokenFile = directory + "/token"
        try (token + "\n").write(toFile: tokenFile, atomically: true, encoding: .utf8)
        logURL = URL(fileURLWithPath: directory + "/serve-\(port).log")
    }

    var address: String { "hasync://127.0.0.1:\(port)" }

    func url(_ root: String) -> String { "\(address)/\(root)" }

    /// The options a client needs for this server.
    var clientArguments: [String] { ["--peer-token-file", tokenFile, "--peer-ca", caFile] }

    /// Starts the server and waits until it listens.
    func start(prefix: [String] = []) async throws {
        var arguments = [
            "serve", "--listen", "127.0.0.1:\(port)", "--tls-cert", "\(directory)/pki/\(certificateName).pem",
            "--tls-key", "\(directory)/pki/\(certificateName)-key.pem", "--token-file", tokenFile, "--io-threads", "4",
        ]
        for root in roots { arguments += ["--root", root] }
        let process = try HASyncProcess(arguments, prefix: prefix)
        self.process = process
        logURL = process.stderrURL
        let listening = try await waitUntil(timeout: 60) { self.log.contains("serving") || !process.process.isRunning }
        guard listening, process.process.isRunning else {
            throw TestFailure("ha-sync serve did not start: \(log)")
        }
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) {
        process?.signal(number)
    }

    /// Stops the server (SIGKILL) and waits for it.
    func kill() async throws {
        guard let process else { return }
        process.signal(SIGKILL)
        _ = try await process.wait(timeout: 30)
        self.process = nil
    }

    /// Sends SIGTERM and waits up to `timeout` seconds for the server to exit (SIGKILL after
    /// that); returns how it ended.
    func terminate(timeout: Double) async throws -> HASyncProcess.Outcome? {
        guard let process else { return nil }
        process.signal(SIGTERM)
        let outcome = try await process.wait(timeout: timeout)
        self.process = nil
        return outcome
    }

    func stop() async {
        guard let process else { return }
        process.signal(SIGTERM)
        _ = try? await process.wait(timeout: 30)
        self.process = nil
    }

    /// A client trusting this server's CA, for direct requests.
    func withClient<T>(_ body: (HTTPClient) async throws -> T) async throws -> T {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// `POST /v1/ROOT/OPERATION` with the token (or `token`), returning the status and body.
    func post(_ root: String, _ operation: String, _ body: ByteBuffer, token: String? = nil) async throws -> (status: UInt, body: ByteBuffer) {
        try await withClient { client in
            var request = HTTPClientRequest(url: "https://127.0.0.1:\(port)/v1/\(root)/\(operation)")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token ?? self.token)")
            request.body = .bytes(body)
            let response = try await client.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 64 << 20)
            return (response.status.code, bytes)
        }
    }

    /// The value of one Prometheus series, 0 when absent.
    func metric(_ series: String) async throws -> Double {
        let text = try await withClient { client in
            let response = try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(port)/metrics"), timeout: .seconds(30))
            return String(buffer: try await response.body.collect(upTo: 1 << 20))
        }
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.split(separator: " ").last!) ?? 0
        }
        return 0
    }

    /// How many `operation` requests the server has answered on `root` (its metrics).
    func requests(_ operation: String, root: String = "data") async throws -> Double {
        try await metric("ha_sync_serve_requests_total{root=\"\(root)\",operation=\"\(operation)\"}")
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
