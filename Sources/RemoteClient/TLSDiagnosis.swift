import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import RemoteProtocol

/// Why a server's certificate was refused, in words: after a failed handshake the client
/// connects once more, reads the certificate the server presents (accepting nothing) and
/// checks its dates, so "expired" and "untrusted" get messages of their own.
enum TLSDiagnosis {
    /// A reason, or `nil` when the certificate could not be read.
    static func reason(for url: RemoteURL, trustFile: String?) -> String? {
        let captured = NIOLockedValueBox<NIOSSLCertificate?>(nil)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.applicationProtocols = ["h2"]
        guard let context = try? NIOSSLContext(configuration: configuration) else { return nil }
        let isAddress = url.host.contains(":") || url.host.allSatisfy { $0.isNumber || $0 == "." }
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try NIOSSLClientHandler(
                        context: context, serverHostname: isAddress ? nil : url.host,
                        customVerificationCallback: { certificates, promise in
                            captured.withLockedValue { $0 = certificates.first }
                            promise.succeed(.failed)  // only looking
                        })
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        guard let channel = try? bootstrap.connect(host: url.host, port: url.port).wait() else { return nil }
        channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
        _ = try? channel.closeFuture.wait()
        guard let leaf = captured.withLockedValue({ $0 }) else { return nil }
        let now = time(nil)
        let format = ISO8601DateFormatter()
        if now > leaf.notValidAfter {
            return "the server's certificate expired on \(format.string(from: Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))))"
        }
        if now < leaf.notValidBefore {
            return "the server's certificate is not valid before "
                + "\(format.string(from: Date(timeIntervalSince1970: TimeInterval(leaf.notValidBefore)))) (check both clocks)"
        }
        return "the server's certificate is not signed by a CA in \(trustFile ?? "the system's trust store") "
            + "(--peer-ca), or is not issued for \(url.host)"
    }
}
