import Foundation

/// Writes a kubeconfig with one cluster, one token user and one context, as `kubectl` would.
public enum Kubeconfig {
    public static func write(to path: String, server: String, certificateAuthorityPEM: [UInt8], token: String, namespace: String) throws {
        let ca = Data(certificateAuthorityPEM).base64EncodedString()
        try """
        current-context: lab
        clusters: [{name: lab, cluster: {server: "\(server)", certificate-authority-data: \(ca)}}]
        users: [{name: sync, user: {token: \(token)}}]
        contexts: [{name: lab, context: {cluster: lab, user: sync, namespace: \(namespace)}}]
        """.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
