import AsyncHTTPClient
import Foundation
public import KubernetesLease
public import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Lease calls against the Kubernetes API: get, create, replace, delete with preconditions.
///
/// HTTPS with the configured CA as the only trust root. Every error becomes a
/// ``KubernetesError`` decoded from the API's `Status` body; the token is never part of one.
public final class LeaseClient: Sendable {
    private let configuration: KubernetesConfiguration
    private let client: HTTPClient
    /// How long one request may take, so a hung API server cannot stall the heartbeat.
    public let requestTimeout: TimeAmount

    public init(configuration: KubernetesConfiguration, requestTimeout: TimeAmount = .seconds(10)) throws {
        self.configuration = configuration
        self.requestTimeout = requestTimeout
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(configuration.certificateAuthorityPEM))
        } catch {
            throw KubernetesError(message: "the cluster CA is not valid PEM: \(error)")
        }
        var settings = HTTPClient.Configuration(tlsConfiguration: tls)
        settings.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(5), read: requestTimeout)
        client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: settings)
    }

    /// Shuts the HTTP client down; call once, when done. Waits at most `grace`: a connection
    /// attempt in flight to an API server that does not answer would otherwise hold the exit of
    /// a stopped run until its connect timeout (the shutdown itself goes on in the background).
    public func shutdown(grace: Duration = .seconds(1)) async {
        let client = self.client
        let done = Mutex(false)
        Task {
            try? await client.shutdown()
            done.withLock { $0 = true }
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: grace)
        while !done.withLock({ $0 }) && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    private func path(namespace: String, name: String? = nil) -> String {
        "\(configuration.server)/apis/coordination.k8s.io/v1/namespaces/\(namespace)/leases" + (name.map { "/\($0)" } ?? "")
    }

    /// The Lease, or `nil` when there is none (404).
    public func get(namespace: String, name: String) async throws -> Lease? {
        do {
            return try await send(.GET, path(namespace: namespace, name: name), body: Optional<Lease>.none)
        } catch let error as KubernetesError where error.code == 404 {
            return nil
        }
    }

    /// Creates the Lease; a 409 `AlreadyExists` means another run created it first.
    public func create(_ lease: Lease, namespace: String) async throws -> Lease {
        try await send(.POST, path(namespace: namespace), body: lease)
    }

    /// Replaces the Lease; its `metadata.resourceVersion` must be the one read (409 `Conflict` otherwise).
    public func replace(_ lease: Lease, namespace: String) async throws -> Lease {
        try await send(.PUT, path(namespace: namespace, name: lease.metadata.name), body: lease)
    }

    /// Deletes the Lease only if it still has `resourceVersion` (409 `Conflict` otherwise).
    public func delete(namespace: String, name: String, resourceVersion: String?) async throws {
        struct DeleteOptions: Encodable {
            struct Preconditions: Encodable { var resourceVersion: String? }
            var apiVersion = "v1"
            var kind = "DeleteOptions"
            var preconditions: Preconditions
        }
        let _: EmptyStatus = try await send(
            .DELETE, path(namespace: namespace, name: name), body: DeleteOptions(preconditions: .init(resourceVersion: resourceVersion)))
    }

    private struct EmptyStatus: Decodable {}

    private struct Status: Decodable {
        var reason: String?
        var message: String?
        var code: Int?
    }

    private func send<Body: Encodable, Result: Decodable>(_ method: HTTPMethod, _ url: String, body: Body?) async throws -> Result {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(try configuration.currentToken())")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(body)))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(request, timeout: requestTimeout)
            bytes = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw KubernetesError(message: "\(method) \(url) failed: \(error)")
        }
        let data = Data(buffer: bytes)
        guard (200..<300).contains(Int(response.status.code)) else {
            let status = try? JSONDecoder().decode(Status.self, from: data)
            throw KubernetesError(
                code: Int(response.status.code), reason: status?.reason ?? response.status.reasonPhrase,
                message: status?.message ?? "\(method) \(url)")
        }
        do {
            return try JSONDecoder().decode(Result.self, from: data)
        } catch {
            throw KubernetesError(code: Int(response.status.code), reason: "BadResponse", message: "\(method) \(url): unexpected body: \(error)")
        }
    }
}
