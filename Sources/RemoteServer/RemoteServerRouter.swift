import Hummingbird
import Logging
import NIOCore
import NIOPosix
import RemoteProtocol

/// The server's routes: health, metrics, and `POST /v1/ROOT/OPERATION`.
struct RemoteServerRouter: Sendable {
    let handlers: [String: RootHandler]
    let tokens: TokenFile
    let pool: NIOThreadPool
    let logger: Logger
    let metrics = ServerMetrics()

    /// Small requests carry a path or two; this bounds what a client can make the server hold.
    static let maxSmallBody = 1 << 20

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/metrics") { [metrics] _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.text())))
        }
        router.post("/v1/:root/:operation") { request, context in
            try await handle(request, context)
        }
        return router
    }

    private func refuse(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }

    private func handle(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), tokens.accepts(String(header.dropFirst(7))) else {
            metrics.unauthorized()
            // The presented token is never logged, not even in part.
            logger.warning("refused a request without a valid token", metadata: ["path": "\(request.uri.path)"])
            return Response(
                status: .unauthorized,
                headers: [.contentType: "text/plain; charset=utf-8", .wwwAuthenticate: "Bearer"],
                body: .init(byteBuffer: ByteBuffer(string: "missing or invalid token\n")))
        }
        let rootName = context.parameters.get("root") ?? ""
        let operationName = context.parameters.get("operation") ?? ""
        guard let handler = handlers[rootName] else {
            return refuse(.notFound, "this server exports no root named '\(rootName)'")
        }
        guard let operation = RemoteOperation(rawValue: operationName) else {
            return refuse(.notFound, "unknown operation '\(operationName)' (is the client newer than the server?)")
        }
        // A stream on a read-only root is answered file by file (each refused) rather than
        // cut short: a refusal before the client finished sending would leave its stream hanging.
        if operation.writes && handler.root.readOnly && !operation.streams {
            metrics.failure(root: rootName, operation: operationName)
            return refuse(.forbidden, "root '\(rootName)' is exported read-only")
        }
        metrics.request(root: rootName, operation: operationName)
        if operation.streams {
            return stream(operation, request, handler)
        }
        var body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: Self.maxSmallBody)
        } catch {
            return refuse(.contentTooLarge, "request body over \(Self.maxSmallBody) bytes")
        }
        metrics.received(root: rootName, bytes: body.readableBytes)
        metrics.begin()
        defer { metrics.end() }
        let reply: ByteBuffer
        do {
            reply = try await pool.runIfActive { [body] in
                var body = body
                return try handler.simple(operation, &body)
            }
        } catch let error as RemotePathError {
            metrics.failure(root: rootName, operation: operationName)
            logger.warning("refused a request", metadata: ["root": "\(rootName)", "operation": "\(operationName)", "reason": "\(error)"])
            return refuse(.badRequest, "\(error)")
        } catch let error as WireError {
            metrics.failure(root: rootName, operation: operationName)
            return refuse(.badRequest, "\(error)")
        }
        if reply.getInteger(at: reply.readerIndex, as: UInt8.self) != 0 { metrics.failure(root: rootName, operation: operationName) }
        metrics.sent(root: rootName, bytes: reply.readableBytes)
        return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: reply))
    }

    /// A batched read or write, or a walk: the request body feeds an I/O thread through a pipe, and its
    /// replies flow back through another, both bounded.
    private func stream(_ operation: RemoteOperation, _ request: Request, _ handler: RootHandler) -> Response {
        let root = handler.root.name
        let body = ResponseBody { [metrics, pool, logger] writer in
            metrics.begin()
            defer { metrics.end() }
            let input = BytePipe(limit: 1 << 20)
            let output = BytePipe(limit: 1 << 20)
            let stats = StreamStats()
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        do {
                            for try await chunk in request.body {
                                metrics.received(root: root, bytes: chunk.readableBytes)
                                try await input.send(chunk)
                            }
                            input.finish()
                        } catch {
                            input.fail(error)
                        }
                    }
                    group.addTask {
                        do {
                            try await pool.runIfActive {
                                let stream = RecordStream(next: input.take)
                                switch operation {
                                case .read: try handler.read(stream, send: output.put, stats: stats)
                                case .walk: try handler.walk(stream, send: output.put)
                                default: try handler.write(stream, send: output.put, stats: stats)
                                }
                            }
                            output.finish()
                        } catch {
                            // A client that abandons a transfer (a stop, a failed write on its side) is routine.
                            let routine = error is CancellationError || "\(error)".contains("StreamClosed")
                            logger.log(
                                level: routine ? .debug : .warning, "stream ended early",
                                metadata: ["root": "\(root)", "operation": "\(operation.rawValue)", "error": "\(error)"])
                            metrics.failure(root: root, operation: operation.rawValue)
                            output.fail(error)
                            input.fail(error)
                        }
                    }
                    do {
                        for try await chunk in output {
                            metrics.sent(root: root, bytes: chunk.readableBytes)
                            try await writer.write(chunk)
                        }
                        try await group.waitForAll()
                    } catch {
                        // Unblock the I/O thread before the group waits for it.
                        input.fail(error)
                        output.fail(error)
                        throw error
                    }
                }
            } catch {
                // The client went away or sent garbage: unblock the I/O thread, end the stream.
                input.fail(error)
                output.fail(error)
                metrics.fileData(root: root, literal: stats.literalBytes, copied: stats.copiedBytes)
                throw error
            }
            metrics.fileData(root: root, literal: stats.literalBytes, copied: stats.copiedBytes)
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: body)
    }
}
