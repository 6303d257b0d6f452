import Foundation
public import Logging
import NIOCore
public import NIOSSL
import Synchronization

/// The server's certificate chain and key, read from PEM files and re-read when either file
/// changes (cert-manager renews them in place), so a renewal needs no restart. A pair of
/// files that does not load (a renewal half written) keeps the previous pair in use.
public final class CertificateFiles: Sendable {
    public let certificatePath: String
    public let keyPath: String
    private let logger: Logger
    private let state: Mutex<State>

    private struct State: @unchecked Sendable {
        // NIOSSLCertificate and NIOSSLPrivateKey are immutable and thread safe.
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
        var stamps: [FileStamp]
        var checkedAt: ContinuousClock.Instant
    }

    public init(certificatePath: String, keyPath: String, logger: Logger) throws {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.logger = logger
        let (chain, key, stamps) = try Self.load(certificatePath, keyPath)
        state = Mutex(State(chain: chain, key: key, stamps: stamps, checkedAt: .now))
    }

    private static func load(_ certificatePath: String, _ keyPath: String) throws -> ([NIOSSLCertificate], NIOSSLPrivateKey, [FileStamp]) {
        let stamps = [try FileStamp(path: certificatePath), try FileStamp(path: keyPath)]
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw ServeError("cannot load the TLS certificate \(certificatePath): \(error)")
        }
        guard !chain.isEmpty else { throw ServeError("no certificate in \(certificatePath)") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw ServeError("cannot load the TLS key \(keyPath): \(error)")
        }
        return (chain, key, stamps)
    }

    /// The pair to present now; re-reads the files when they changed (checked at most every 2 s).
    public func current() -> (chain: [NIOSSLCertificate], key: NIOSSLPrivateKey) {
        let now = ContinuousClock.now
        let (due, stamps) = state.withLock { state -> (Bool, [FileStamp]) in
            guard now - state.checkedAt >= .seconds(2) else { return (false, []) }
            state.checkedAt = now
            return (true, state.stamps)
        }
        if due {
            let fresh = [try? FileStamp(path: certificatePath), try? FileStamp(path: keyPath)]
            if fresh != stamps.map(Optional.some) {
                do {
                    let (chain, key, loaded) = try Self.load(certificatePath, keyPath)
                    state.withLock {
                        $0.chain = chain
                        $0.key = key
                        $0.stamps = loaded
                    }
                    logger.info("TLS certificate reloaded", metadata: ["certificate": "\(certificatePath)"])
                } catch {
                    logger.warning("TLS certificate changed but does not load; still using the previous one", metadata: ["error": "\(error)"])
                }
            }
        }
        return state.withLock { ($0.chain, $0.key) }
    }

    /// A server TLS configuration that asks this object for the pair at each handshake.
    public func serverConfiguration() -> TLSConfiguration {
        let initial = current()
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: initial.chain.map { .certificate($0) }, privateKey: .privateKey(initial.key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["h2", "http/1.1"]
        configuration.sslContextCallback = { [self] _, promise in
            let pair = current()
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = pair.chain.map { .certificate($0) }
            override.privateKey = .privateKey(pair.key)
            promise.succeed(override)
        }
        return configuration
    }
}
