import Foundation
import KubernetesClient
import KubernetesLease
import KubernetesTestSupport
import SyncCore
import Testing

private let namespace = "infrastructure"

private func lease(_ name: String = "ha-sync-media", holder: String = "pod-a/dell-to-hp", version: String? = nil) -> Lease {
    let now = MicroTime(Timestamp.now())
    return Lease(
        metadata: Lease.Metadata(name: name, namespace: namespace, resourceVersion: version),
        spec: Lease.Spec(holderIdentity: holder, leaseDurationSeconds: 60, acquireTime: now, renewTime: now, leaseTransitions: 0))
}

private func withServer(
    tokens: [String: Set<String>] = ["good-token": FakeKubernetesAPI.allVerbs], _ body: (FakeKubernetesAPI) async throws -> Void
) async throws {
    let api = try await FakeKubernetesAPI.start(tokens: tokens)
    do {
        try await body(api)
    } catch {
        await api.stop()
        throw error
    }
    await api.stop()
}

/// Runs `body` with a client, shutting it down whether `body` succeeds or throws (a client
/// dropped without shutdown traps in debug builds and would take the whole test run down).
private func withClient(_ api: FakeKubernetesAPI, _ body: (LeaseClient) async throws -> Void) async throws {
    let client = try client(api)
    do {
        try await body(client)
    } catch {
        await client.shutdown()
        throw error
    }
    await client.shutdown()
}

private func client(_ api: FakeKubernetesAPI, token: String = "good-token", ca: [UInt8]? = nil) throws -> LeaseClient {
    try LeaseClient(
        configuration: KubernetesConfiguration(server: api.server, certificateAuthorityPEM: ca ?? api.certificateAuthorityPEM, token: .value(token)))
}

private func expectError(code: Int, reason: String, _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected \(code) \(reason)")
    } catch let error as KubernetesError {
        #expect(error.code == code && error.reason == reason, "\(error)")
    } catch {
        Issue.record("unexpected \(error)")
    }
}

@Suite("Fake Kubernetes API server semantics, through the client", .serialized)
struct FakeAPIAndClientTests {
    @Test func createGetAndAlreadyExists() async throws {
        try await withServer { api in
            try await withClient(api) { client in
                #expect(try await client.get(namespace: namespace, name: "ha-sync-media") == nil, "404 NotFound reads as no Lease")
                let created = try await client.create(lease(), namespace: namespace)
                #expect(created.metadata.resourceVersion != nil)
                #expect(created.metadata.uid != nil)
                #expect(try await client.get(namespace: namespace, name: "ha-sync-media") == created)
                await expectError(code: 409, reason: "AlreadyExists") { _ = try await client.create(lease(holder: "pod-b/x"), namespace: namespace) }
            }
        }
    }

    @Test func updatesNeedTheCurrentResourceVersionWhichOnlyGrows() async throws {
        try await withServer { api in
            try await withClient(api) { client in
                let first = try await client.create(lease(), namespace: namespace)
                var next = first
                next.spec.renewTime = MicroTime(Timestamp.now())
                let second = try await client.replace(next, namespace: namespace)
                #expect(Int(second.metadata.resourceVersion!)! > Int(first.metadata.resourceVersion!)!)
                await expectError(code: 409, reason: "Conflict") { _ = try await client.replace(next, namespace: namespace) }  // stale version
                await expectError(code: 404, reason: "NotFound") { _ = try await client.replace(lease("other", version: "1"), namespace: namespace) }
            }
        }
    }

    @Test func deletesHonourTheirPreconditions() async throws {
        try await withServer { api in
            try await withClient(api) { client in
                let created = try await client.create(lease(), namespace: namespace)
                await expectError(code: 409, reason: "Conflict") {
                    try await client.delete(namespace: namespace, name: "ha-sync-media", resourceVersion: "0")
                }
                #expect(api.lease(namespace: namespace, name: "ha-sync-media") != nil)
                try await client.delete(namespace: namespace, name: "ha-sync-media", resourceVersion: created.metadata.resourceVersion)
                #expect(api.lease(namespace: namespace, name: "ha-sync-media") == nil)
                await expectError(code: 404, reason: "NotFound") {
                    try await client.delete(namespace: namespace, name: "ha-sync-media", resourceVersion: nil)
                }
            }
        }
    }

    @Test func aBadTokenIs401AndAMissingGrantIs403WithoutShowingTheToken() async throws {
        try await withServer(tokens: ["reader": ["get"], "good-token": FakeKubernetesAPI.allVerbs]) { api in
            let stranger = try client(api, token: "s3cret-not-known")
            do {
                _ = try await stranger.get(namespace: namespace, name: "x")
                Issue.record("must be refused")
            } catch let error as KubernetesError {
                #expect(error.code == 401 && error.reason == "Unauthorized")
                #expect(!"\(error)".contains("s3cret"))
            }
            let reader = try client(api, token: "reader")
            _ = try await reader.get(namespace: namespace, name: "x")
            await expectError(code: 403, reason: "Forbidden") { _ = try await reader.create(lease(), namespace: namespace) }
            await stranger.shutdown()
            await reader.shutdown()
        }
    }

    @Test func theConfiguredCAIsTheOnlyTrustRoot() async throws {
        try await withServer { api in
            let other = FileManager.default.temporaryDirectory.appendingPathComponent("other-ca-\(UUID().uuidString.prefix(6))").path
            try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
            try await Certificates.make(in: other)
            let foreignCA = try Array(Data(contentsOf: URL(fileURLWithPath: other + "/ca.crt")))
            let client = try client(api, ca: foreignCA)
            do {
                _ = try await client.get(namespace: namespace, name: "x")
                Issue.record("a server signed by another CA must be refused")
            } catch let error as KubernetesError {
                #expect(error.code == 0)
                #expect(!"\(error)".contains("good-token"))
            }
            await client.shutdown()
            try? FileManager.default.removeItem(atPath: other)
        }
    }

    @Test func handingTheLeaseToAnotherHolderAndOutagesAreVisible() async throws {
        try await withServer { api in
            try await withClient(api) { client in
                let created = try await client.create(lease(), namespace: namespace)
                api.hand(namespace: namespace, name: "ha-sync-media", to: "pod-b/hp-to-dell")
                let now = try #require(try await client.get(namespace: namespace, name: "ha-sync-media"))
                #expect(now.spec.holderIdentity == "pod-b/hp-to-dell")
                #expect(now.spec.leaseTransitions == 1)
                #expect(now.metadata.resourceVersion != created.metadata.resourceVersion)
                api.setUnavailable(true)
                await expectError(code: 503, reason: "ServiceUnavailable") { _ = try await client.get(namespace: namespace, name: "ha-sync-media") }
            }
        }
    }
}

@Suite("Kubernetes client configuration")
struct KubernetesConfigurationTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubeconfig-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    @Test func kubeconfigWithTokenFileCAFileAndNamespace() async throws {
        try await withServer(tokens: ["file-token": FakeKubernetesAPI.allVerbs]) { api in
            try Data(api.certificateAuthorityPEM).write(to: URL(fileURLWithPath: directory + "/ca.crt"))
            try "file-token\n".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
            try """
            apiVersion: v1
            kind: Config
            current-context: lab
            clusters:
            - name: homelab
              cluster:
                server: \(api.server)
                certificate-authority: ca.crt
            users:
            - name: ha-sync
              user:
                tokenFile: token
            contexts:
            - name: lab
              context:
                cluster: homelab
                user: ha-sync
                namespace: storage
            """.write(toFile: directory + "/config", atomically: true, encoding: .utf8)
            let configuration = try KubernetesConfiguration.kubeconfig(path: directory + "/config")
            #expect(configuration.namespace == "storage")
            #expect(configuration.token == .file(directory + "/token"))
            let client = try LeaseClient(configuration: configuration)
            #expect(try await client.get(namespace: "storage", name: "none") == nil)
            await client.shutdown()
        }
    }

    @Test func kubeconfigWithInlineDataAndToken() throws {
        let ca = Data("-----BEGIN CERTIFICATE-----\n".utf8).base64EncodedString()
        try """
        current-context: c
        clusters: [{name: k, cluster: {server: "https://10.0.0.1:6443", certificate-authority-data: \(ca)}}]
        users: [{name: u, user: {token: abc}}]
        contexts: [{name: c, context: {cluster: k, user: u}}]
        """.write(toFile: directory + "/inline", atomically: true, encoding: .utf8)
        let configuration = try KubernetesConfiguration.kubeconfig(path: directory + "/inline")
        #expect(configuration.server == "https://10.0.0.1:6443")
        #expect(configuration.token == .value("abc"))
        #expect(configuration.namespace == nil)
        #expect(configuration.certificateAuthorityPEM == Array("-----BEGIN CERTIFICATE-----\n".utf8))
        #expect(throws: KubernetesError.self) { try KubernetesConfiguration.kubeconfig(path: directory + "/inline", context: "missing") }
        #expect(throws: KubernetesError.self) { try KubernetesConfiguration.kubeconfig(path: directory + "/absent") }
    }

    @Test func inClusterConfigurationReReadsARotatedToken() async throws {
        try await withServer(tokens: ["first": FakeKubernetesAPI.allVerbs]) { api in
            try Data(api.certificateAuthorityPEM).write(to: URL(fileURLWithPath: directory + "/ca.crt"))
            try "first".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
            try "infrastructure\n".write(toFile: directory + "/namespace", atomically: true, encoding: .utf8)
            let port = api.server.split(separator: ":").last.map(String.init) ?? ""
            let environment = ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port]
            #expect(KubernetesConfiguration.isInCluster(environment: environment, directory: directory))
            #expect(!KubernetesConfiguration.isInCluster(environment: [:], directory: directory))
            let configuration = try KubernetesConfiguration.inCluster(environment: environment, directory: directory)
            #expect(configuration.namespace == "infrastructure")
            #expect(configuration.server == api.server)
            let client = try LeaseClient(configuration: configuration)
            _ = try await client.get(namespace: "infrastructure", name: "x")
            // The kubelet rotates the token; the API server now accepts only the new one.
            api.setTokens(["second": FakeKubernetesAPI.allVerbs])
            try "second".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
            _ = try await client.get(namespace: "infrastructure", name: "x")
            await client.shutdown()
        }
    }
}
