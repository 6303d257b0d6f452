import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP2
import NIOHTTPTypesHTTP2
import NIOSSL

/// The server's connections: TLS, then HTTP/2 (ha-sync clients) or HTTP/1.1 (curl, Prometheus)
/// as ALPN decides.
///
/// Hummingbird's own HTTP/2 channel keeps HTTP/2's default flow-control windows, 64 KiB per
/// connection and per stream, so an upload carried 64 KiB per round trip on each connection:
/// at 1 ms that held a batch of small files to about 75 MB/s and made the link's latency cost
/// more than all the server's work. This channel is built the same way from NIO's parts, with
/// larger windows (``streamWindow``, ``connectionWindow``).
struct PeerServerChannel: HTTPChannelHandler {
    typealias HTTP2Streams = NIOHTTP2Handler.AsyncStreamMultiplexer<HTTP1Channel.Value>

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<NIONegotiatedHTTPVersion<HTTP1Channel.Value, HTTP2Streams>>
        let channel: any Channel
    }

    /// Bytes a client may send on one stream before the server reads them: a folder's batch
    /// of small files in a flight or two, or 250 MB/s on one stream at 1 ms. It also bounds
    /// what a connection can make the server hold (streams times this, before any token is
    /// checked); twice this measured no faster and held 10 MiB more at the peak.
    static let streamWindow = 256 << 10
    /// Bytes in flight on a connection, all streams together. NIO tops it up as frames
    /// arrive (what waits unread is bounded per stream), so it only needs to cover a few streams.
    static let connectionWindow = 1 << 20
    /// The largest DATA frame a client may send: a piece of a batch travels as one frame
    /// rather than a dozen of HTTP/2's default 16 KiB, each its own trip through both ends'
    /// frame handling and the server's body stream.
    static let maxFrameSize = 256 << 10
    /// A connection without a stream for this long is closed (a client that vanished).
    static let idleTimeout = TimeAmount.minutes(10)

    let responder: Responder
    private let sslContext: NIOSSLContext
    private let http1: HTTP1Channel

    init(tlsConfiguration: TLSConfiguration, responder: @escaping Responder) throws {
        var tls = tlsConfiguration
        tls.applicationProtocols = NIOHTTP2SupportedALPNProtocols
        sslContext = try NIOSSLContext(configuration: tls)
        self.responder = responder
        http1 = HTTP1Channel(responder: responder)
    }

    static var http2Configuration: NIOHTTP2Handler.Configuration {
        var configuration = NIOHTTP2Handler.Configuration()
        // New streams start with the full window, not 64 KiB raised after their first frame.
        configuration.connection.initialSettings =
            nioDefaultSettings + [
                HTTP2Setting(parameter: .initialWindowSize, value: streamWindow), HTTP2Setting(parameter: .maxFrameSize, value: maxFrameSize),
            ]
        configuration.connection.targetWindowSize = connectionWindow
        configuration.stream.targetWindowSize = streamWindow
        return configuration
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
        }.flatMap {
            channel.configureHTTP2AsyncSecureUpgrade(
                http1ConnectionInitializer: { connection in http1.setup(channel: connection, logger: logger) },
                http2ConnectionInitializer: { connection in
                    connection.eventLoop.makeCompletedFuture {
                        // Closes idle connections, and sends GOAWAY when the server shuts down gracefully.
                        let management = NIOHTTP2ServerConnectionManagementHandler(
                            eventLoop: connection.eventLoop,
                            configuration: .init(maxIdleTime: Self.idleTimeout, maxAge: nil, maxGraceTime: nil, keepalive: nil))
                        let streams = try connection.pipeline.syncOperations.configureAsyncHTTP2Pipeline(
                            mode: .server, streamDelegate: management.http2StreamDelegate, configuration: Self.http2Configuration
                        ) { stream in
                            stream.eventLoop.makeCompletedFuture {
                                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTPServerCodec())
                                return try HTTP1Channel.Value(wrappingChannelSynchronously: stream)
                            }
                        }
                        try connection.pipeline.syncOperations.addHandlers(management, CloseWhenInputCloses())
                        return streams
                    }
                })
        }.map { Value(negotiated: $0, channel: channel) }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http1_1(let connection):
                await http1.handle(value: connection, logger: logger)
            case .http2(let streams):
                try await withThrowingDiscardingTaskGroup { group in
                    for try await stream in streams.inbound {
                        // One request per stream: the HTTP/1 request loop ends with the stream.
                        group.addTask { await handleHTTP(asyncChannel: stream, logger: logger) }
                    }
                }
            }
        } catch {
            logger.debug("connection ended: \(error)")
        }
    }
}

/// Closes an HTTP/2 connection once its client has closed its side. The server accepts
/// half-closed connections (Hummingbird's HTTP/1.1 handling wants them); in the HTTP/2
/// pipeline nothing else would close it, and a connection left in CLOSE-WAIT would also hold
/// a graceful shutdown open forever.
final class CloseWhenInputCloses: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}

extension HTTPServerBuilder {
    /// TLS with HTTP/2 and HTTP/1.1 by ALPN, with ``PeerServerChannel``'s flow-control windows.
    static func peer(tlsConfiguration: TLSConfiguration) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in try PeerServerChannel(tlsConfiguration: tlsConfiguration, responder: responder) }
    }
}
