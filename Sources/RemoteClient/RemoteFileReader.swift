import AsyncHTTPClient
import NIOCore
import RemoteProtocol
import SyncCore
import SyncTrees

/// A file on a remote tree, read once from start to end.
///
/// Opening asks the server for the file and waits for its attributes (so a vanished file
/// fails at open, as on a local tree). The content follows once the reader answers with
/// the signatures of the writing tree's old copy, if that tree offered one
/// (``useBasis(_:)``), so that only what changed crosses the wire.
final class RemoteFileReader: DeltaFileReader {
    let attributes: FileAttributes
    private let path: RelativePath
    private let body: BytePipe
    private let stream: RecordStream
    private let task: HTTPClient.Task<Void>
    private var basis: (any BasisFile)?
    private var receiver: ContentReceiver?

    /// Opens `path`: one round trip.
    init(connection: RemoteConnection, path: RelativePath) throws {
        self.path = path
        body = BytePipe()
        var request = ByteBuffer()
        request.writeReadFlags(compress: connection.compress)
        request.writeVarInt(1)
        request.writePath(path)
        try body.put(request)
        let reply: BytePipe
        do {
            (reply, task) = try connection.stream(.read, body: body)
        } catch let error as RemoteError {
            throw SyncTreeError(code: .io, operation: SyncTreeError.openSource, path: path, detail: error.description)
        }
        stream = RecordStream(next: reply.take)
        do {
            attributes = try stream.read { buffer -> FileAttributes in
                guard let tag: UInt8 = buffer.readInteger() else { throw WireError.truncated }
                if tag == 0 { return try buffer.readAttributes() }
                throw try buffer.readTreeError()
            }
        } catch let error as SyncTreeError {
            // The server could not open it: end the exchange politely (no answer is read).
            var answer = ByteBuffer()
            answer.writeBool(false)
            try? body.put(answer)
            body.finish()
            throw error
        } catch {
            task.cancel()
            body.fail(CancellationError())
            if let error = error as? RemoteError {
                throw SyncTreeError(code: .io, operation: SyncTreeError.openSource, path: path, detail: error.description)
            }
            throw error
        }
    }

    deinit {
        if !(receiver?.isComplete ?? false) {
            task.cancel()
            body.fail(CancellationError())
        }
    }

    func useBasis(_ basis: any BasisFile) {
        self.basis = basis
    }

    /// Sends the answer (the old copy's signatures, or none) and starts receiving.
    private func startReceiving() throws -> ContentReceiver {
        if let receiver { return receiver }
        var answer = ByteBuffer()
        if let basis {
            answer.writeBool(true)
            try BlockSignatures.of(basis).write(to: &answer)
        } else {
            answer.writeBool(false)
        }
        try body.put(answer)
        body.finish()
        let receiver = ContentReceiver(attributes: attributes, path: path, stream: stream)
        if let basis { receiver.useBasis(basis) }
        self.receiver = receiver
        return receiver
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        do {
            return try startReceiving().read(into: buffer)
        } catch let error as RemoteError {
            throw SyncTreeError(code: .io, operation: "remote read", path: path, detail: error.description)
        }
    }

    func checkUnchanged() throws {
        guard let receiver else { throw SyncTreeError(code: .sourceChanged, operation: "copy", path: path, detail: "never read") }
        try receiver.checkUnchanged()
    }
}
