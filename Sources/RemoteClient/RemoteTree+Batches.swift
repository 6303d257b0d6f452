import AsyncHTTPClient
import NIOCore
import RemoteProtocol
public import SyncCore
public import SyncTrees

/// Small files travel many per exchange: a batch's files are fetched with one `read`
/// request, or sent with one `write` request, instead of one round trip each.
extension RemoteTree: BatchingSyncTree {
    /// Files up to this size are fetched ahead in a batch; larger ones stream on their own
    /// (and may travel as a delta).
    static let prefetchLimit: Int64 = 1 << 20
    /// At most this many bytes of one batch are held in memory.
    static let prefetchBudget: Int64 = 8 << 20

    public var prefersBatches: Bool { true }

    public var roundTripMicros: Double? { connection.roundTripMicros }

    public func prefetchFiles(_ files: [(path: RelativePath, size: Int64)]) {
        var chosen: [RelativePath] = []
        var total: Int64 = 0
        for file in files where file.size <= Self.prefetchLimit && total + file.size <= Self.prefetchBudget {
            chosen.append(file.path)
            total += file.size
        }
        guard chosen.count > 1 else { return }
        var fetched: [RelativePath: Result<PrefetchedFile, any Error>] = [:]
        do {
            var request = ByteBuffer()
            request.writeReadFlags(compress: connection.compress)
            request.writeVarInt(UInt64(chosen.count))
            for path in chosen {
                request.writePath(path)
                request.writeBool(false)  // no old copy: small files travel whole
            }
            let body = BytePipe()
            try body.put(request)
            body.finish()
            let (reply, _) = try connection.stream(.read, body: body)
            let stream = RecordStream(next: reply.take)
            for path in chosen {
                let header = try stream.read { buffer -> Result<FileAttributes, SyncTreeError> in
                    guard let tag: UInt8 = buffer.readInteger() else { throw WireError.truncated }
                    return tag == 0 ? .success(try buffer.readAttributes()) : .failure(try buffer.readTreeError())
                }
                switch header {
                case .failure(let error):
                    fetched[path] = .failure(error)
                case .success(let attributes):
                    let receiver = ContentReceiver(attributes: attributes, path: path, stream: stream)
                    var content: [UInt8] = []
                    content.reserveCapacity(Int(min(attributes.size, Self.prefetchLimit)))
                    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
                    defer { chunk.deallocate() }
                    do {
                        while true {
                            let count = try receiver.read(into: chunk)
                            if count == 0 { break }
                            content.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[..<count]))
                        }
                        fetched[path] = .success(PrefetchedFile(attributes: attributes, content: content))
                    } catch let error as SyncTreeError {
                        fetched[path] = .failure(error)
                        try receiver.drain()
                    }
                }
            }
        } catch {
            // Whatever was not fetched is opened one by one, which reports the problem per file.
        }
        prefetched.withLock { store in
            // Files of an abandoned batch (a stop) must not pile up.
            if store.count > 10_000 { store.removeAll() }
            store.merge(fetched) { _, new in new }
        }
    }

    /// The prefetched copy of `path`, removed from the store.
    func takePrefetched(_ path: RelativePath) -> Result<PrefetchedFile, any Error>? {
        prefetched.withLock { $0.removeValue(forKey: path) }
    }

    public func receiveBatch(
        _ files: [IncomingFile], options: CopyOptions, shouldStop: @Sendable () -> Bool,
        completed: (Int, Result<CopyReport, any Error>) -> Void
    ) {
        for file in files { changing(file.path) }
        guard files.count > 1 else {
            for (index, file) in files.enumerated() {
                completed(index, Result { try receiveFile(file.path, from: try file.open(), options: file.options(options), shouldStop: shouldStop) })
            }
            return
        }
        let body = BytePipe(limit: RemoteConnection.pipeBytes)
        let reply: BytePipe
        let task: HTTPClientTask
        do {
            (reply, task) = try startStream(.write, body: body, path: files[0].path)
        } catch {
            for index in files.indices { completed(index, .failure(error)) }
            return
        }
        var sent: [Int] = []
        var large: [(Int, any FileReader)] = []
        var failure: (any Error)?
        var output = ByteBuffer()
        for (index, file) in files.enumerated() {
            if shouldStop() { break }
            let reader: any FileReader
            do {
                reader = try file.open()
            } catch {
                completed(index, .failure(error))
                continue
            }
            if reader.attributes.size >= deltaBasisMinimumSize {
                large.append((index, reader))  // on its own afterwards: it may travel as a delta
                continue
            }
            do {
                output.writePath(file.path)
                output.writeAttributes(reader.attributes)
                output.writeCopyOptions(file.options(options))
                sent.append(index)
                do {
                    try Self.sendContent(
                        of: reader, signatures: nil, path: file.path, into: body, buffer: &output, compress: connection.compress,
                        shouldStop: shouldStop)
                } catch is SyncTreeError {
                    // Sent as an abort: the server's reply for this file carries the error.
                }
            } catch {
                failure = error
                break
            }
        }
        if failure == nil && output.readableBytes > 0 {
            do {
                try body.put(output)
            } catch {
                failure = error
            }
        }
        body.finish()
        let stream = RecordStream(next: reply.take)
        for index in sent {
            if let failure {
                completed(index, .failure(treeError(failure, files[index].path)))
                continue
            }
            do {
                let report = try stream.read { buffer -> Result<CopyReport, SyncTreeError> in
                    guard let tag: UInt8 = buffer.readInteger() else { throw WireError.truncated }
                    return tag == 0 ? .success(try buffer.readCopyReport()) : .failure(try buffer.readTreeError())
                }
                completed(index, report.mapError { $0 as any Error })
            } catch {
                failure = error
                completed(index, .failure(treeError(error, files[index].path)))
            }
        }
        // Abandon the exchange only if it broke: cancelling one that just completed can reset
        // the stream before its end arrives, which the server would log as an error.
        if failure != nil { task.cancel() }
        for (index, reader) in large {
            if shouldStop() { break }
            completed(
                index, Result { try receiveFile(files[index].path, from: reader, options: files[index].options(options), shouldStop: shouldStop) })
        }
    }

    private func treeError(_ error: any Error, _ path: RelativePath) -> any Error {
        if let error = error as? RemoteError {
            return SyncTreeError(code: .io, operation: "remote write", path: path, detail: error.description)
        }
        return error
    }
}

/// A small file fetched ahead in a batch, verified against the server's SHA-256.
struct PrefetchedFile: Sendable {
    var attributes: FileAttributes
    var content: [UInt8]
}

/// Reads a prefetched file from memory.
final class MemoryFileReader: FileReader {
    let attributes: FileAttributes
    private let content: [UInt8]
    private var offset = 0

    init(_ file: PrefetchedFile) {
        attributes = file.attributes
        content = file.content
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = min(buffer.count, content.count - offset)
        guard count > 0 else { return 0 }
        content[offset..<(offset + count)].withUnsafeBytes { buffer.copyMemory(from: $0) }
        offset += count
        return count
    }

    /// The content was complete and checked when it arrived.
    func checkUnchanged() throws {}
}

typealias HTTPClientTask = HTTPClient.Task<Void>
