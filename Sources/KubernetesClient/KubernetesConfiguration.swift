import Foundation
import Yams

/// How to reach the Kubernetes API: the server, the CA to trust (only that one), the
/// credentials and the default namespace.
public struct KubernetesConfiguration: Sendable {
    /// `https://host:port`, no trailing slash.
    public var server: String
    /// PEM of the certificate authorities that sign the API server's certificate.
    public var certificateAuthorityPEM: [UInt8]
    public var token: TokenSource
    public var namespace: String?

    /// Where the bearer token comes from.
    public enum TokenSource: Sendable, Hashable {
        case value(String)
        /// A file read at every request, so a rotated service-account token is picked up.
        case file(String)
    }

    public init(server: String, certificateAuthorityPEM: [UInt8], token: TokenSource, namespace: String? = nil) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.token = token
        self.namespace = namespace
    }

    /// The service-account directory every pod gets.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// Whether this process runs in a pod (the API server's address is in the environment and
    /// the service account is mounted).
    public static func isInCluster(environment: [String: String]? = nil, directory: String = serviceAccountDirectory) -> Bool {
        let environment = environment ?? ProcessInfo.processInfo.environment
        return environment["KUBERNETES_SERVICE_HOST"] != nil && FileManager.default.fileExists(atPath: directory + "/token")
    }

    /// The configuration of a pod: `KUBERNETES_SERVICE_HOST`/`PORT`, the service account's
    /// token (re-read when it rotates), CA and namespace.
    public static func inCluster(environment: [String: String]? = nil, directory: String = serviceAccountDirectory) throws -> KubernetesConfiguration
    {
        let environment = environment ?? ProcessInfo.processInfo.environment
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty else {
            throw KubernetesError(message: "not running in a cluster: KUBERNETES_SERVICE_HOST is not set")
        }
        let port = environment["KUBERNETES_SERVICE_PORT"] ?? "443"
        let address = host.contains(":") ? "[\(host)]" : host
        guard let ca = FileManager.default.contents(atPath: directory + "/ca.crt") else {
            throw KubernetesError(message: "cannot read the cluster CA at \(directory)/ca.crt")
        }
        let namespace = (try? String(contentsOfFile: directory + "/namespace", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        return KubernetesConfiguration(
            server: "https://\(address):\(port)", certificateAuthorityPEM: Array(ca), token: .file(directory + "/token"), namespace: namespace)
    }

    /// The current (or named) context of a kubeconfig file: `server`, `certificate-authority-data`
    /// or `certificate-authority`, `token` or `tokenFile`, and the context's `namespace`.
    public static func kubeconfig(path: String, context name: String? = nil) throws -> KubernetesConfiguration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw KubernetesError(message: "cannot read kubeconfig \(path)")
        }
        guard let root = try Yams.load(yaml: text) as? [String: Any] else {
            throw KubernetesError(message: "kubeconfig \(path) is not a YAML mapping")
        }
        func entry(_ list: String, _ entryName: String, _ key: String) throws -> [String: Any] {
            let items = root[list] as? [[String: Any]] ?? []
            guard let item = items.first(where: { $0["name"] as? String == entryName }), let value = item[key] as? [String: Any] else {
                throw KubernetesError(message: "kubeconfig \(path) has no \(key) named '\(entryName)'")
            }
            return value
        }
        guard let contextName = name ?? root["current-context"] as? String else {
            throw KubernetesError(message: "kubeconfig \(path) has no current-context; name one")
        }
        let context = try entry("contexts", contextName, "context")
        let cluster = try entry("clusters", context["cluster"] as? String ?? "", "cluster")
        let user = try entry("users", context["user"] as? String ?? "", "user")
        guard let server = cluster["server"] as? String, server.hasPrefix("https://") else {
            throw KubernetesError(message: "kubeconfig \(path): the cluster's server must be an https:// URL")
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        func resolve(_ file: String) -> String { file.hasPrefix("/") ? file : directory + "/" + file }
        let ca: [UInt8]
        if let data = cluster["certificate-authority-data"] as? String {
            guard let decoded = Data(base64Encoded: data) else {
                throw KubernetesError(message: "kubeconfig \(path): certificate-authority-data is not base64")
            }
            ca = Array(decoded)
        } else if let file = cluster["certificate-authority"] as? String, let contents = FileManager.default.contents(atPath: resolve(file)) {
            ca = Array(contents)
        } else {
            throw KubernetesError(
                message: "kubeconfig \(path): the cluster needs certificate-authority-data or a readable certificate-authority file")
        }
        let token: TokenSource
        if let value = user["token"] as? String {
            token = .value(value)
        } else if let file = user["tokenFile"] as? String {
            token = .file(resolve(file))
        } else {
            throw KubernetesError(message: "kubeconfig \(path): the user needs a token or a tokenFile (client certificates are not supported)")
        }
        return KubernetesConfiguration(server: server, certificateAuthorityPEM: ca, token: token, namespace: context["namespace"] as? String)
    }

    /// The bearer token now.
    func currentToken() throws -> String {
        switch token {
        case .value(let value):
            return value
        case .file(let path):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw KubernetesError(message: "cannot read the service account token at \(path)")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}

/// A Kubernetes API problem as one line: `reason (code): message`. Never contains the token.
public struct KubernetesError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status, 0 when no answer came back.
    public var code: Int
    /// The `Status` object's `reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Unauthorized`, `Forbidden`...).
    public var reason: String
    public var message: String

    public init(code: Int = 0, reason: String = "", message: String) {
        self.code = code
        self.reason = reason
        self.message = message
    }

    public var description: String {
        code == 0 ? "Kubernetes API: \(message)" : "Kubernetes API: \(reason.isEmpty ? "error" : reason) (\(code)): \(message)"
    }
}
