import Foundation
import KubernetesTestSupport
import MariaDBTestSupport
import SyncTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM before the engine starts: while the run waits on its Lease or on the audit store.
@Suite("ha-sync stopped while it waits", .serialized)
struct ShutdownEndToEndTests {
    let tree: TemporaryTree
    let source: String
    let destination: String
    let logs: String

    init() throws {
        tree = try TemporaryTree("shutdown")
        source = try tree.directory("src")
        destination = try tree.directory("dest")
        logs = try tree.directory("logs")
        try TemporaryTree.write(source, "a.txt", "a")
    }

    func kubeconfig(server: String, certificateAuthorityPEM: [UInt8]) throws -> String {
        let path = tree.root + "/kubeconfig"
        try Kubeconfig.write(
            to: path, server: server, certificateAuthorityPEM: certificateAuthorityPEM, token: "sync-token", namespace: "infrastructure")
        return path
    }

    func arguments(kubeconfig: String, dsn: String? = nil) -> [String] {
        [
            "--src", source, "--dest", destination, "--pair", "photos", "--direction", "dell-to-hp", "--log-dir", logs,
            "--lock", "kubernetes", "--kubeconfig", kubeconfig, "--lock-ttl", "30",
        ] + (dsn.map { ["--db-dsn", $0] } ?? [])
    }

    @Test(.timeLimit(.minutes(3)))
    func sigtermWhileConnectingToAFrozenDatabaseReleasesTheLeaseAndExits143() async throws {
        let server = try await MariaDBServer.start()
        let database = try await server.createDatabase()
        // Timeouts far longer than the test waits: only the stop can end the connect.
        let dsn = server.dsn(database: database, parameters: "timeout=120s&readTimeout=120s&writeTimeout=120s")
        let api = try await FakeKubernetesAPI.start(tokens: ["sync-token": FakeKubernetesAPI.allVerbs])
        server.pause()
        defer { server.resume() }

        let run = try HASyncProcess(
            arguments(kubeconfig: try kubeconfig(server: api.server, certificateAuthorityPEM: api.certificateAuthorityPEM), dsn: dsn))
        #expect(try await waitUntil(timeout: 30) { api.lease(namespace: "infrastructure", name: "ha-sync-photos") != nil })
        try await Task.sleep(for: .seconds(1))  // now blocked in the connect to the frozen server
        let signalled = Date()
        run.signal(SIGTERM)
        let outcome = try await run.wait(timeout: 60)
        let elapsed = outcome.exitedAt.timeIntervalSince(signalled)

        #expect(outcome.status == 143, "\(outcome.stderr)")
        #expect(elapsed < 10, "the stop does not wait for the frozen server (took \(elapsed) s)")
        #expect(outcome.stderr.contains("stopped while opening the audit store"))
        #expect(api.lease(namespace: "infrastructure", name: "ha-sync-photos") == nil, "the Lease was released")
        #expect(!FileManager.default.fileExists(atPath: destination + "/a.txt"), "nothing was synced")
        await api.stop()
    }

    @Test(.timeLimit(.minutes(2)))
    func sigtermWhileTheAPIServerDoesNotAnswerExits143AtOnce() async throws {
        let api = try await FakeKubernetesAPI.start(tokens: ["sync-token": FakeKubernetesAPI.allVerbs])
        let certificate = api.certificateAuthorityPEM
        await api.stop()
        // A listener that never accepts: the TLS handshake waits until the client gives up.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                guard bind(listener, $0, length) == 0, listen(listener, 8) == 0, getsockname(listener, $0, &length) == 0 else {
                    throw POSIXError(.EADDRINUSE)
                }
            }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))

        let run = try HASyncProcess(arguments(kubeconfig: try kubeconfig(server: "https://127.0.0.1:\(port)", certificateAuthorityPEM: certificate)))
        // The signal comes while the client waits on the handshake: as soon as its connection
        // is queued (a fixed sleep raced the client's 5 s connect timeout on a loaded machine).
        let connecting = try await waitUntil(timeout: 60) {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            return poll(&descriptor, 1, 0) > 0
        }
        #expect(connecting, "the run tried to reach the API server")
        let signalled = Date()
        run.signal(SIGTERM)
        let outcome = try await run.wait(timeout: 60)
        let elapsed = outcome.exitedAt.timeIntervalSince(signalled)

        #expect(outcome.status == 143, "\(outcome.stderr)")
        #expect(elapsed < 5, "took \(elapsed) s")
        #expect(outcome.stderr.contains("stopped while taking the run lock"))
        #expect(!FileManager.default.fileExists(atPath: destination + "/a.txt"))
    }
}
