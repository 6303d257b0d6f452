import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL
import SyncCore
import SyncTestSupport
import Testing

/// `ha-sync serve`'s connections as seen on the wire: the flow-control windows it offers,
/// and that connections a client has closed do not keep it from stopping.
@Suite("Remote peer connections", .serialized)
struct PeerConnectionTests {
    let tree: TemporaryTree
    let local: String
    let exported: String

    init() throws {
        tree = try TemporaryTree("peer-connections")
        local = try tree.directory("local")
        exported = try tree.directory("exported")
    }

    func serve() async throws -> ServeProcess {
        let server = try await ServeProcess(directory: try tree.directory("serve"), roots: ["data=\(exported)"])
        try await server.start()
        return server
    }

    @Test func theServerOffersWindowsLargerThanHTTP2sDefault() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(server.caFile))
        tls.applicationProtocols = ["h2"]
        let context = try NIOSSLContext(configuration: tls)
        let (channel, settings, connectionWindow) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: server.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let recorder = FrameRecorder(eventLoop: channel.eventLoop)
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                    try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .client))
                    try channel.pipeline.syncOperations.addHandler(recorder)
                    return (channel, recorder.settings.futureResult, recorder.connectionWindowUpdate.futureResult)
                }
            }
        defer { channel.close(promise: nil) }

        // The server's first SETTINGS: every stream starts with the larger window.
        let advertised = try await settings.get()
        let initialWindow = advertised.first { $0.parameter == .initialWindowSize }?.value
        #expect(initialWindow == 256 << 10, "the stream window HTTP/2 starts with is 65,535 bytes")
        // And a piece of a batch fits one frame (HTTP/2's default is 16 KiB).
        #expect(advertised.first { $0.parameter == .maxFrameSize }?.value == 256 << 10)

        // One byte of data on a stream: the server raises the connection's window to its target.
        let headers = HPACKHeaders([(":method", "POST"), (":path", "/healthz"), (":scheme", "https"), (":authority", "localhost")])
        channel.write(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: headers))), promise: nil)
        let data = HTTP2Frame.FramePayload.Data(data: .byteBuffer(ByteBuffer(string: "x")), endStream: true)
        try await channel.writeAndFlush(HTTP2Frame(streamID: 1, payload: .data(data)))
        let increment = try await connectionWindow.get()
        #expect(65_535 - 1 + increment == 1 << 20, "increment \(increment)")
    }

    /// Monitoring (Prometheus, curl in a probe) often speaks HTTP/1.1: ALPN falls back to it.
    @Test func healthAndMetricsAnswerOverHTTP11() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(server.caFile))
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.httpVersion = .http1Only
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let health = try await client.execute(.init(url: "https://127.0.0.1:\(server.port)/healthz"), timeout: .seconds(10))
            #expect(health.status == .ok)
            #expect(health.version == .http1_1)
            let metrics = try await client.execute(.init(url: "https://127.0.0.1:\(server.port)/metrics"), timeout: .seconds(10))
            let text = String(buffer: try await metrics.body.collect(upTo: 1 << 20))
            #expect(metrics.status == .ok && text.contains("ha_sync_serve_"))
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    @Test func theServerStopsOnSIGTERMOnceItsClientsHaveGone() async throws {
        let server = try await serve()
        defer { Task { await server.stop() } }
        for index in 0..<40 { try TemporaryTree.write(local, "f\(index).txt", String(repeating: "x", count: index * 100)) }
        let run = try await HASyncProcess.run(
            ["--src", local, "--dest", server.url("data"), "--pair", "p", "--log-dir", tree.root + "/logs"] + server.clientArguments)
        #expect(run.status == 0, "\(run.stderr)")
        // A client that shuts down cleanly (an HTTP client's shutdown closes its side first).
        let health = try await server.withClient { client in
            try await client.execute(.init(url: "https://127.0.0.1:\(server.port)/healthz"), timeout: .seconds(10)).status.code
        }
        #expect(health == 200)
        // Both clients are gone: their connections are closed on their side, and the server
        // must close them too, or a graceful shutdown waits on them for ever.
        let stopped = try await server.terminate(timeout: 15)
        #expect(stopped?.terminatedBySignal == false && stopped?.status == 0, "\(stopped?.stderr ?? "")")
    }
}

/// Records what a bare HTTP/2 client sees: the server's SETTINGS and its first WINDOW_UPDATE
/// for the whole connection.
private final class FrameRecorder: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    let settings: EventLoopPromise<HTTP2Settings>
    let connectionWindowUpdate: EventLoopPromise<Int>

    struct NotSeen: Error {}

    init(eventLoop: any EventLoop) {
        settings = eventLoop.makePromise()
        connectionWindowUpdate = eventLoop.makePromise()
        // A server that never sends one fails the test instead of hanging it.
        eventLoop.scheduleTask(in: .seconds(10)) { [settings, connectionWindowUpdate] in
            settings.fail(NotSeen())
            connectionWindowUpdate.fail(NotSeen())
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .settings(.settings(let values)):
            settings.succeed(values)
        case .windowUpdate(let increment) where frame.streamID == .rootStream:
            connectionWindowUpdate.succeed(increment)
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        settings.fail(NotSeen())
        connectionWindowUpdate.fail(NotSeen())
    }
}
