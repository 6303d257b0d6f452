import AsyncHTTPClient
import Dispatch
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
public import RemoteProtocol
import SyncTrees
import Synchronization

/// The client's side of one `hasync://` address: an HTTP/2 connection over TLS that many
/// requests share at once, the token, and the rule that after the server became
/// unreachable every later call fails at once with the same clear message.
///
/// Calls block the calling thread (the engine's I/O threads) on futures that the HTTP
/// client's event loops complete, so no task of Swift's cooperative pool is ever waited on.
public final class RemoteConnection: Sendable {
    public let url: RemoteURL
    /// Several HTTP/2 connections. Streams (file data) take them in turn: each connection is
    /// served by one event-loop thread on each side, so the TLS and framing work of the data
    /// spreads over the cores (and they once made up for a server that kept HTTP/2's 64 KiB
    /// windows; it now offers 256 KiB per stream). Small exchanges (listings, metadata) all
    /// use the first, so a run that moves no data makes one TLS handshake, not eight.
    private let clients: [HTTPClient]
    private let next = Atomic<Int>(0)
    var streamClient: HTTPClient { clients[next.add(1, ordering: .relaxed).oldValue % clients.count] }
    private let authorization: String
    private let trustFile: String?
    private let broken = Mutex<String?>(nil)
    /// Moving average of a small exchange's time, in microseconds, and how many were timed.
    private let exchangeTime = Mutex<(micros: Double?, count: Int)>((nil, 0))
    /// Deflate file data both ways (`--compress`): uploads compress here, downloads ask the server to.
    public let compress: Bool

    /// Bytes a stream's pipe holds between the engine's thread and the connection, each way.
    /// HTTP/2 flow control keeps far less than this in flight per stream, so a larger pipe
    /// could only hold memory (up to 32 batches stream at once).
    static let pipeBytes = 1 << 20

    /// How long one request may wait for the server before the connection counts as lost.
    static let readTimeout: TimeAmount = .seconds(120)

    /// - Parameters:
    ///   - tokenFile: a file holding the token (its first non-empty line).
    ///   - trustFile: PEM certificates to trust: the server's CA, or the server's own
    ///     certificate to pin it. `nil` trusts the system's roots.
    public init(url: RemoteURL, tokenFile: String, trustFile: String?, compress: Bool = false) throws {
        self.url = url
        self.compress = compress
        let text: String
        do {
            text = try String(contentsOfFile: tokenFile, encoding: .utf8)
        } catch {
            throw RemoteError("cannot read the peer token file \(tokenFile): \(error.localizedDescription)")
        }
        guard let token = text.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespaces) }).first(where: { !$0.isEmpty })
        else {
            throw RemoteError("the peer token file \(tokenFile) is empty")
        }
        authorization = "Bearer \(token)"
        self.trustFile = trustFile
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let trustFile {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(trustFile))
            } catch {
                throw RemoteError("cannot load the peer CA file \(trustFile): \(error)")
            }
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.httpVersion = .automatic
        configuration.timeout = .init(connect: .seconds(10), read: Self.readTimeout)
        configuration.decompression = .disabled
        // A refused connection or handshake is reported at once, not retried until the timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        clients = (0..<Self.connections).map { _ in
            HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        }
    }

    /// Connections per peer.
    static let connections = 8

    /// Closes the connection. Call once, when no call is in flight.
    public func shutdown() {
        // Bounded: an exchange the server abandoned must not keep the process from exiting.
        let done = DispatchSemaphore(value: 0)
        for client in clients { client.shutdown(queue: .global()) { _ in done.signal() } }
        let deadline = DispatchTime.now() + 5
        for _ in clients { _ = done.wait(timeout: deadline) }
    }

    private func request(_ operation: RemoteOperation, body: HTTPClient.Body) throws -> HTTPClient.Request {
        var headers = HTTPHeaders()
        headers.add(name: "Authorization", value: authorization)
        headers.add(name: "Content-Type", value: "application/octet-stream")
        return try HTTPClient.Request(url: "\(url.baseURL)/\(operation.rawValue)", method: .POST, headers: headers, body: body)
    }

    /// Fails at once if an earlier call found the server unreachable.
    func checkUsable() throws {
        if let message = broken.withLock({ $0 }) { throw RemoteError(message) }
    }

    /// Turns a transport failure into one line for the user, and remembers it: the server
    /// is treated as gone for the rest of the run.
    func transportFailure(_ error: any Error) -> RemoteError {
        if let error = error as? RemoteError { return error }
        let message = describe(error)
        broken.withLock { if $0 == nil { $0 = message } }
        return RemoteError(message)
    }

    private func describe(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") || error is NIOSSLExtraError {
            let reason =
                TLSDiagnosis.reason(for: url, trustFile: trustFile)
                ?? "the server's certificate is not trusted, has expired, or is not issued for \(url.host) (check --peer-ca and the server's certificate)"
            return "\(url): TLS handshake failed: \(reason)"
        }
        if let error = error as? NIOSSLError {
            return "\(url): TLS failed: \(error)"
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "\(url): connection timed out"
            case .readTimeout: return "\(url): the server stopped answering (no reply within \(Self.readTimeout.nanoseconds / 1_000_000_000) s)"
            case .remoteConnectionClosed: return "\(url): the server closed the connection"
            case .cancelled: return "\(url): request cancelled"
            default: break
            }
        }
        if let error = error as? NIOConnectionError {
            let causes = error.connectionErrors.map { Self.words($0.error) }.joined(separator: "; ")
            return "\(url): cannot connect: \(causes.isEmpty ? "\(error)" : causes)"
        }
        if let error = error as? IOError {
            return "\(url): cannot connect: \(Self.words(error))"
        }
        return "\(url): \(text)"
    }

    /// A system error in words ("Connection refused"), without NIO's decoration.
    private static func words(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        return "\(error)"
    }

    /// Turns a refusal (any status but 200) into one line for the user.
    func refusal(status: HTTPResponseStatus, body: ByteBuffer?) -> RemoteError {
        let said = body.map { String(buffer: $0) }?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        switch status {
        case .unauthorized:
            return RemoteError("\(url) refused the token (HTTP 401): check --peer-token-file against the server's --token-file")
        case .forbidden:
            // The server answers 403 only to a write on a root it exports read-only.
            return RemoteError("\(url) refused: \(said.isEmpty ? "root '\(url.root)' is exported read-only" : said) (HTTP 403)")
        default:
            return RemoteError("\(url) refused the request (HTTP \(status.code)): \(said.isEmpty ? status.reasonPhrase : String(said.prefix(300)))")
        }
    }

    /// The time one small exchange with the server takes (its round trip, plus the server's
    /// work on a listing), in microseconds; `nil` until a few were timed.
    public var roundTripMicros: Double? {
        exchangeTime.withLock { $0.micros }
    }

    /// Sends a small request and waits for its reply; tree errors in the reply are thrown as such.
    func call(_ operation: RemoteOperation, _ body: ByteBuffer) throws -> ByteBuffer {
        try checkUsable()
        let response: HTTPClient.Response
        let started = ContinuousClock.now
        do {
            response = try clients[0].execute(request: try request(operation, body: .byteBuffer(body))).wait()
        } catch {
            throw transportFailure(error)
        }
        recordExchange(ContinuousClock.now - started)
        guard response.status == .ok else { throw refusal(status: response.status, body: response.body) }
        var reply = response.body ?? ByteBuffer()
        try RemoteReply.check(&reply)
        return reply
    }

    private func recordExchange(_ elapsed: Duration) {
        let micros = Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
        exchangeTime.withLock { time in
            time.count += 1
            // The first exchange includes the connection's TLS handshake.
            guard time.count > 1 else { return }
            time.micros = time.micros.map { $0 + 0.25 * (micros - $0) } ?? micros
        }
    }

    /// Starts a streamed request: `body` is sent as it is filled; the returned pipe carries
    /// the reply as it arrives. Cancel the returned task to abandon the exchange.
    func stream(_ operation: RemoteOperation, body: BytePipe) throws -> (reply: BytePipe, task: HTTPClient.Task<Void>) {
        try checkUsable()
        let reply = BytePipe(limit: Self.pipeBytes)
        let streamed = HTTPClient.Body.stream(contentLength: nil) { writer in
            // The writer hops to its channel's loop itself; any loop can drive the pump.
            Self.pump(body, into: writer, on: MultiThreadedEventLoopGroup.singleton.next())
        }
        let delegate = ReplyDelegate(pipe: reply, body: body, connection: self)
        let task = streamClient.execute(request: try request(operation, body: streamed), delegate: delegate)
        return (reply, task)
    }

    private static func pump(_ pipe: BytePipe, into writer: HTTPClient.Body.StreamWriter, on loop: any EventLoop) -> EventLoopFuture<Void> {
        pipe.next(on: loop).flatMap { chunk in
            guard let chunk else { return loop.makeSucceededVoidFuture() }
            return writer.write(.byteBuffer(chunk)).flatMap { pump(pipe, into: writer, on: loop) }
        }
    }
}

/// Feeds a streamed reply into a pipe, with backpressure; a refusal or a lost connection
/// fails the pipe with a clear message.
final class ReplyDelegate: HTTPClientResponseDelegate, @unchecked Sendable {
    typealias Response = Void
    // Touched only on the task's event loop.
    private var status: HTTPResponseStatus = .ok
    private var refusalBody = ByteBuffer()
    let pipe: BytePipe
    /// The request's body: once the exchange is over, a writer still filling it is released.
    let body: BytePipe
    let connection: RemoteConnection

    init(pipe: BytePipe, body: BytePipe, connection: RemoteConnection) {
        self.pipe = pipe
        self.body = body
        self.connection = connection
    }

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        status = head.status
        if status != .ok {
            // Refused before reading what is being sent: release the writer now, or it waits
            // for room in a pipe nobody drains.
            body.fail(connection.refusal(status: status, body: nil))
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        guard status == .ok else {
            var buffer = buffer
            if refusalBody.readableBytes < 4096 { refusalBody.writeBuffer(&buffer) }
            return task.eventLoop.makeSucceededVoidFuture()
        }
        return pipe.offer(buffer, on: task.eventLoop)
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
        if let error = error as? HTTPClientError, error == .cancelled {
            // This side abandoned the exchange: nothing is wrong with the server.
            pipe.fail(CancellationError())
            body.fail(CancellationError())
            return
        }
        let failure = connection.transportFailure(error)
        pipe.fail(failure)
        body.fail(failure)
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        if status == .ok {
            pipe.finish()
            // The server has read all it wanted.
            body.fail(CancellationError())
        } else {
            let refusal = connection.refusal(status: status, body: refusalBody)
            pipe.fail(refusal)
            body.fail(refusal)
        }
    }
}

/// A failure to talk to a remote peer, worded for the user. Never contains the token.
public struct RemoteError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
