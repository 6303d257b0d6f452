public import ArgumentParser
import Crypto
import Foundation
import RemoteProtocol
import SwiftASN1
import X509

/// `ha-sync certificate`: a private CA and a server certificate for `ha-sync serve`.
public struct CertificateCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ha-sync certificate",
        abstract: "Create a private CA (once) and a TLS certificate for ha-sync serve, signed by it.",
        discussion: """
            Writes into --dir: ca.pem and ca-key.pem (created only if missing, so running it again \
            renews the server certificate under the same CA), and NAME.pem and NAME-key.pem for the \
            server. Give clients ca.pem with --peer-ca. Keys are written mode 0600; keep ca-key.pem \
            out of the cluster. cert-manager can issue the same certificates instead (docs/operations.md).
            """
    )

    @Option(help: ArgumentHelp("Folder for the files.", valueName: "dir"))
    var dir: String

    @Option(help: ArgumentHelp("Base name of the server's files.", valueName: "name"))
    var name = "server"

    @Option(
        name: .customLong("host"),
        help: ArgumentHelp("A DNS name or IP address clients use to reach the server. Repeat for several.", valueName: "host"))
    var hosts: [String] = []

    @Option(help: ArgumentHelp("Days the server certificate is valid.", valueName: "n"))
    var days = 825

    /// For tests: moves the validity window this many days into the past (an expired certificate).
    @Option(name: .customLong("backdate-days"), help: .hidden)
    var backdateDays = 0

    public init() {}

    public func validate() throws {
        guard !hosts.isEmpty else { throw ValidationError("give at least one --host (the name or address clients connect to)") }
        guard days >= 1 else { throw ValidationError("--days must be at least 1") }
        guard RemoteNames.isValid(name) else { throw ValidationError("--name must be letters, digits, '.', '_' or '-'") }
    }

    public func run() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let caPath = dir + "/ca.pem"
        let caKeyPath = dir + "/ca-key.pem"
        let now = Date()
        let caKey: P256.Signing.PrivateKey
        let caCertificate: Certificate
        if FileManager.default.fileExists(atPath: caPath) {
            caKey = try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: caKeyPath, encoding: .utf8))
            caCertificate = try Certificate(pemEncoded: try String(contentsOfFile: caPath, encoding: .utf8))
        } else {
            caKey = P256.Signing.PrivateKey()
            let caName = try DistinguishedName { CommonName("ha-sync private CA") }
            caCertificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(caKey.publicKey),
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(3650 * 86400),
                issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                },
                issuerPrivateKey: .init(caKey))
            try write(caKey.pemRepresentation, to: caKeyPath, mode: 0o600)
            try write(try caCertificate.serializeAsPEM().pemString, to: caPath, mode: 0o644)
        }
        let serverKey = P256.Signing.PrivateKey()
        let start = now.addingTimeInterval(-3600 - Double(backdateDays) * 86400)
        let names: [GeneralName] = hosts.map { host in
            if let address = Self.ipBytes(host) { return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(address))) }
            return .dnsName(host)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(serverKey.publicKey),
            notValidBefore: start, notValidAfter: start.addingTimeInterval(Double(days) * 86400),
            issuer: caCertificate.subject, subject: try DistinguishedName { CommonName(hosts[0]) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(caKey))
        try write(serverKey.pemRepresentation, to: "\(dir)/\(name)-key.pem", mode: 0o600)
        try write(try certificate.serializeAsPEM().pemString, to: "\(dir)/\(name).pem", mode: 0o644)
        print(
            "wrote \(dir)/\(name).pem and \(dir)/\(name)-key.pem (valid until \(ISO8601DateFormatter().string(from: start.addingTimeInterval(Double(days) * 86400)))); clients trust \(caPath)"
        )
    }

    /// The bytes of an IPv4 or IPv6 address, `nil` for a DNS name.
    static func ipBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// Writes through a temporary name, so a reader never sees half a key.
    private func write(_ text: String, to path: String, mode: mode_t) throws {
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: Int(mode)]) else {
            throw ValidationError("cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else { throw ValidationError("cannot rename \(temporary) to \(path)") }
    }
}
