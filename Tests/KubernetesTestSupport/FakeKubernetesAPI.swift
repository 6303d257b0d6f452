import Foundation
import Hummingbird
import HummingbirdTLS
public import KubernetesLease
import NIOCore
import NIOSSL
import SyncTestSupport
import Synchronization

/// A stand-in for the Kubernetes API server, since none can run here: Lease get, create,
/// update and delete under `/apis/coordination.k8s.io/v1`, over HTTPS with a CA of its own,
/// with the real semantics — a monotonic `resourceVersion`, 409 `Conflict` for a stale one
/// (on update and on delete preconditions), 409 `AlreadyExists`, 404 `NotFound`, 401 for an
/// unknown token and 403 for a verb the token's role does not grant.
public final class FakeKubernetesAPI: Sendable {
    /// The CA that signed the server's certificate (PEM).
    public let certificateAuthorityPEM: [UInt8]
    /// `https://127.0.0.1:<port>`.
    public let server: String
    private let task: Task<Void, any Error>
    private let state: StateBox
    private let directory: String

    /// The server's state, shared by the routes and the test hooks.
    final class StateBox: Sendable {
        let mutex: Mutex<State>
        init(_ state: State) { mutex = Mutex(state) }
        func withLock<R>(_ body: (inout State) -> R) -> R { mutex.withLock { body(&$0) } }
    }

    struct State {
        var leases: [String: Lease] = [:]
        var version = 0
        var tokens: [String: Set<String>]
        var unavailable = false
    }

    /// Every verb a Lease lock needs.
    public static let allVerbs: Set<String> = ["get", "create", "update", "delete"]

    /// Starts a server that accepts `tokens` (token → verbs it may use).
    public static func start(tokens: [String: Set<String>]) async throws -> FakeKubernetesAPI {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fake-kube-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try await Certificates.make(in: directory)
        let state = StateBox(State(tokens: tokens))
        let port = Mutex<Int?>(nil)
        let router = Self.router(state: state)
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(directory + "/server.crt").map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: directory + "/server.key", format: .pem)))
        let app = Application(
            router: router, server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } })
        // On a thread of its own: the runs under test must get their answers in time even
        // while other tests keep the task pool busy.
        let executor = ThreadTaskExecutor(name: "fake-kubernetes-api")
        let task = Task(executorPreference: executor) { try await app.runService(gracefulShutdownSignals: []) }
        for _ in 0..<200 where port.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(25)) }
        guard let bound = port.withLock({ $0 }) else {
            task.cancel()
            throw CertificateError("the fake API server did not start")
        }
        let ca = try Data(contentsOf: URL(fileURLWithPath: directory + "/ca.crt"))
        return FakeKubernetesAPI(
            certificateAuthorityPEM: Array(ca), server: "https://127.0.0.1:\(bound)", task: task, state: state, directory: directory)
    }

    private init(certificateAuthorityPEM: [UInt8], server: String, task: Task<Void, any Error>, state: StateBox, directory: String) {
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.server = server
        self.task = task
        self.state = state
        self.directory = directory
    }

    public func stop() async {
        task.cancel()
        _ = try? await task.value
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: Test hooks

    public func lease(namespace: String, name: String) -> Lease? {
        state.withLock { $0.leases["\(namespace)/\(name)"] }
    }

    /// Another holder takes the Lease (as a run elsewhere would after a takeover).
    public func hand(namespace: String, name: String, to holder: String) {
        state.withLock { state in
            guard var lease = state.leases["\(namespace)/\(name)"] else { return }
            state.version += 1
            lease.spec.holderIdentity = holder
            lease.spec.leaseTransitions = (lease.spec.leaseTransitions ?? 0) + 1
            lease.metadata.resourceVersion = String(state.version)
            state.leases["\(namespace)/\(name)"] = lease
        }
    }

    /// Answers 503 to everything while set, as an API server that is down.
    public func setUnavailable(_ value: Bool) {
        state.withLock { $0.unavailable = value }
    }

    public func setTokens(_ tokens: [String: Set<String>]) {
        state.withLock { $0.tokens = tokens }
    }

    // MARK: Routes

    static let prefix = "/apis/coordination.k8s.io/v1/namespaces/:namespace/leases"

    static func router(state: StateBox) -> Router<BasicRequestContext> {
        let router = Router()
        router.post(RouterPath(prefix)) { request, context in
            try await handle(request, context, verb: "create", state: state) { state, namespace, _, body in
                guard var lease = try? JSONDecoder().decode(Lease.self, from: body) else { return failure(400, "BadRequest", "not a Lease") }
                let key = "\(namespace)/\(lease.metadata.name)"
                if state.leases[key] != nil {
                    return failure(409, "AlreadyExists", "leases.coordination.k8s.io \"\(lease.metadata.name)\" already exists")
                }
                state.version += 1
                lease.metadata.namespace = namespace
                lease.metadata.resourceVersion = String(state.version)
                lease.metadata.uid = UUID().uuidString.lowercased()
                state.leases[key] = lease
                return respond(201, lease)
            }
        }
        router.get(RouterPath(prefix + "/:name")) { request, context in
            try await handle(request, context, verb: "get", state: state) { state, namespace, name, _ in
                guard let lease = state.leases["\(namespace)/\(name)"] else { return notFound(name) }
                return respond(200, lease)
            }
        }
        router.put(RouterPath(prefix + "/:name")) { request, context in
            try await handle(request, context, verb: "update", state: state) { state, namespace, name, body in
                guard var lease = try? JSONDecoder().decode(Lease.self, from: body), lease.metadata.name == name else {
                    return failure(400, "BadRequest", "not a Lease named \(name)")
                }
                guard let current = state.leases["\(namespace)/\(name)"] else { return notFound(name) }
                if let version = lease.metadata.resourceVersion, version != current.metadata.resourceVersion {
                    return conflict(name)
                }
                state.version += 1
                lease.metadata.namespace = namespace
                lease.metadata.uid = current.metadata.uid
                lease.metadata.resourceVersion = String(state.version)
                state.leases["\(namespace)/\(name)"] = lease
                return respond(200, lease)
            }
        }
        router.delete(RouterPath(prefix + "/:name")) { request, context in
            try await handle(request, context, verb: "delete", state: state) { state, namespace, name, body in
                guard let current = state.leases["\(namespace)/\(name)"] else { return notFound(name) }
                struct Options: Decodable {
                    struct Preconditions: Decodable { var resourceVersion: String? }
                    var preconditions: Preconditions?
                }
                if let version = (try? JSONDecoder().decode(Options.self, from: body))?.preconditions?.resourceVersion,
                    version != current.metadata.resourceVersion
                {
                    return conflict(name)
                }
                state.leases["\(namespace)/\(name)"] = nil
                return status(200, "Success", nil, "deleted")
            }
        }
        return router
    }

    private static func handle(
        _ request: Request, _ context: BasicRequestContext, verb: String, state: StateBox,
        _ body: (inout State, String, String, Data) -> Response
    ) async throws -> Response {
        var request = request
        let bytes = try await request.collectBody(upTo: 1 << 20)
        let data = Data(bytes.readableBytesView)
        let namespace = context.parameters.get("namespace") ?? ""
        let name = context.parameters.get("name") ?? ""
        let token = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        return state.withLock { state in
            if state.unavailable { return Self.status(503, "Failure", "ServiceUnavailable", "the server is currently unable to handle the request") }
            guard let token, let verbs = state.tokens[token] else { return Self.status(401, "Failure", "Unauthorized", "Unauthorized") }
            guard verbs.contains(verb) else {
                return Self.failure(
                    403, "Forbidden",
                    "leases.coordination.k8s.io \"\(name)\" is forbidden: User \"system:serviceaccount:\(namespace):ha-sync\" cannot \(verb) resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"\(namespace)\""
                )
            }
            return body(&state, namespace, name, data)
        }
    }

    static func respond(_ code: Int, _ lease: Lease) -> Response {
        let data = (try? JSONEncoder().encode(lease)) ?? Data()
        return Response(
            status: .init(code: code), headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func notFound(_ name: String) -> Response { failure(404, "NotFound", "leases.coordination.k8s.io \"\(name)\" not found") }

    static func conflict(_ name: String) -> Response {
        failure(
            409, "Conflict",
            "Operation cannot be fulfilled on leases.coordination.k8s.io \"\(name)\": the object has been modified; please apply your changes to the latest version and try again"
        )
    }

    static func failure(_ code: Int, _ reason: String, _ message: String) -> Response { status(code, "Failure", reason, message) }

    static func status(_ code: Int, _ outcome: String, _ reason: String?, _ message: String) -> Response {
        var object: [String: Any] = ["kind": "Status", "apiVersion": "v1", "status": outcome, "message": message, "code": code]
        if let reason { object["reason"] = reason }
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return Response(
            status: .init(code: code), headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Test certificates made with the `openssl` command: a CA and a server certificate for 127.0.0.1.
public enum Certificates {
    /// Writes `ca.crt`, `ca.key`, `server.crt`, `server.key` into `directory` (openssl runs off
    /// the task pool, which must stay free for the servers of the tests running beside).
    public static func make(in directory: String) async throws {
        try await OffThePool.run { try makeBlocking(in: directory) }
    }

    static func makeBlocking(in directory: String) throws {
        try run(
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days",
                "2", "-subj", "/CN=ha-sync test CA",
            ], in: directory)
        try run(
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj",
                "/CN=127.0.0.1",
            ], in: directory)
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: directory + "/san.ext", atomically: true, encoding: .utf8)
        try run(
            [
                "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2",
                "-extfile", "san.ext",
            ], in: directory)
    }

    static func run(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        // Fresh handles: the shared FileHandle.nullDevice must not be handed to several children.
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")!
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")!
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CertificateError("openssl \(arguments.prefix(2).joined(separator: " ")) failed") }
    }
}

public struct CertificateError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
