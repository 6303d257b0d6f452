import AsyncHTTPClient
import NIOCore
import RemoteProtocol
public import SyncCore
public import SyncTrees
import Synchronization

/// A tree on a remote `ha-sync serve`, used by the engine like any other tree.
///
/// Listings, metadata calls and file transfers are requests on one HTTP/2 connection, many
/// in flight at once (one per engine I/O thread). Files travel as content records: whole,
/// or as a delta against the receiving side's old copy when that copy is large (rsync's
/// rolling checksum), and every file is checked against the sender's SHA-256 before it is
/// renamed into place.
public final class RemoteTree: SyncTree, Sendable {
    public let connection: RemoteConnection
    /// Small files fetched ahead by ``prefetchFiles(_:)``, until opened.
    let prefetched = Mutex<[RelativePath: Result<PrefetchedFile, any Error>]>([:])
    /// Listings of the whole tree, streamed ahead from the last listing of the root on.
    private let walk = Mutex<ListingWalk?>(nil)

    public var displayName: String { connection.url.description }

    /// Connects and checks the token, the root and the protocol version.
    public init(connection: RemoteConnection) throws {
        self.connection = connection
        var reply = try connection.call(.hello, ByteBuffer())
        try Self.checkProtocol(try reply.readVarInt(), of: connection.url)
    }

    /// Refuses a server of another protocol version, by name, before anything is touched.
    static func checkProtocol(_ version: UInt64, of url: RemoteURL) throws {
        guard version == UInt64(RemoteOperation.protocolVersion) else {
            throw RemoteError(
                "\(url) speaks protocol version \(version), this client \(RemoteOperation.protocolVersion): run the same ha-sync version on both ends"
            )
        }
    }

    /// A call whose transport failure becomes a tree error on `path`, so the engine records
    /// it against the file like any other failure.
    private func call(_ operation: RemoteOperation, _ path: RelativePath?, _ encode: (inout ByteBuffer) -> Void) throws -> ByteBuffer {
        var body = ByteBuffer()
        encode(&body)
        do {
            return try connection.call(operation, body)
        } catch let error as RemoteError {
            throw SyncTreeError(code: .io, operation: "remote \(operation.rawValue)", path: path, detail: error.description)
        }
    }

    public func list(_ directory: RelativePath) throws -> DirectoryListing {
        if let listing = try walked(directory) { return listing }
        var reply = try call(.list, directory) { $0.writePath(directory) }
        return try reply.readListing()
    }

    public func listKinds(_ directory: RelativePath) throws -> DirectoryListing {
        // A full listing from the walk serves as well: it has the kinds and more.
        if let listing = try walked(directory) { return listing }
        var reply = try call(.listKinds, directory) { $0.writePath(directory) }
        return try reply.readListing()
    }

    /// The walk's listing of `directory`. Each listing of the root starts a walk: a pass over
    /// the tree starts there, and a run may make two (with `--delete-missing`, the survey
    /// before the guards, then the real pass), each of which needs every folder again.
    private func walked(_ directory: RelativePath) throws -> DirectoryListing? {
        let current = walk.withLock { current -> ListingWalk? in
            if directory.isRoot {
                current?.stop()
                current = ListingWalk(tree: self, root: .root)
            }
            return current
        }
        return try current?.take(directory)
    }

    /// Drops what the walk has or will have of the folders holding `paths`, which this client
    /// is about to change (and of `paths` themselves, when they are folders).
    func changing(_ paths: RelativePath...) {
        guard let current = walk.withLock({ $0 }) else { return }
        current.invalidate(paths.flatMap { [$0, $0.parent] })
    }

    public func md5(of path: RelativePath) throws -> String {
        var reply = try call(.md5, path) { $0.writePath(path) }
        return try reply.readText()
    }

    public func blockDigest(of path: RelativePath, key: BlockKey) throws -> String {
        var reply = try call(.blockDigest, path) {
            $0.writePath(path)
            $0.writeBytes(key.bytes)
        }
        return try reply.readText()
    }

    public func entry(at path: RelativePath) throws -> Entry? {
        var reply = try call(.entry, path) { $0.writePath(path) }
        return try reply.readOptionalEntry()
    }

    public func makeDirectory(_ path: RelativePath, replacing: EntryKind?) throws {
        changing(path)
        _ = try call(.makeDirectory, path) {
            $0.writePath(path)
            $0.writeOptionalKind(replacing)
        }
    }

    public func finishDirectory(_ path: RelativePath, permissions: UInt32, modified: Timestamp) throws {
        changing(path)
        _ = try call(.finishDirectory, path) {
            $0.writePath(path)
            $0.writeVarInt(UInt64(permissions))
            $0.writeTimestamp(modified)
        }
    }

    public func makeSymlink(_ path: RelativePath, target: [UInt8], modified: Timestamp) throws {
        changing(path)
        _ = try call(.makeSymlink, path) {
            $0.writePath(path)
            $0.writeBlob(target)
            $0.writeTimestamp(modified)
        }
    }

    public func remove(_ path: RelativePath, kind: EntryKind) throws {
        changing(path)
        _ = try call(.remove, path) {
            $0.writePath(path)
            $0.writeKind(kind)
        }
    }

    public func setModificationTime(_ path: RelativePath, to modified: Timestamp) throws {
        changing(path)
        _ = try call(.setModificationTime, path) {
            $0.writePath(path)
            $0.writeTimestamp(modified)
        }
    }

    public func removeTemporaryFile(named name: [UInt8], in directory: RelativePath) throws {
        changing(directory)
        _ = try call(.removeTemporaryFile, directory) {
            $0.writePath(directory)
            $0.writeBlob(name)
        }
    }

    public func rename(_ path: RelativePath, to newPath: RelativePath, expected: Entry) throws {
        changing(path, newPath)
        _ = try call(.rename, path) {
            $0.writePath(path)
            $0.writePath(newPath)
            $0.writeEntry(expected)
        }
    }

    public func keepVersion(of path: RelativePath, as versionPath: RelativePath, expected: Entry, keepOriginal: Bool) throws {
        changing(path, versionPath)
        _ = try call(.keepVersion, path) {
            $0.writePath(path)
            $0.writePath(versionPath)
            $0.writeEntry(expected)
            $0.writeBool(keepOriginal)
        }
    }

    // MARK: Files

    public func openFile(_ path: RelativePath) throws -> any FileReader {
        if let ready = takePrefetched(path) {
            return MemoryFileReader(try ready.get())
        }
        return try RemoteFileReader(connection: connection, path: path)
    }

    public func receiveFile(_ path: RelativePath, from reader: any FileReader, options: CopyOptions, shouldStop: @Sendable () -> Bool) throws
        -> CopyReport
    {
        changing(path)
        let attributes = reader.attributes
        var signatures: BlockSignatures?
        if attributes.size >= deltaBasisMinimumSize {
            var reply = try call(.signatures, path) {
                $0.writePath(path)
                $0.writeAttributes(attributes)  // which version: a partial transfer of it is resumed
            }
            if try reply.readBool() { signatures = try BlockSignatures.read(from: &reply) }
        }
        let body = BytePipe(limit: RemoteConnection.pipeBytes)
        let (replies, task) = try startStream(.write, body: body, path: path)
        defer { body.fail(CancellationError()) }
        do {
            var output = ByteBuffer()
            output.writePath(path)
            output.writeAttributes(attributes)
            output.writeCopyOptions(options)
            do {
                try Self.sendContent(
                    of: reader, signatures: signatures, path: path, into: body, buffer: &output, compress: connection.compress, shouldStop: shouldStop
                )
            } catch let error as SyncTreeError {
                try? body.put(output)
                body.finish()
                throw error
            }
            if output.readableBytes > 0 { try body.put(output) }
            body.finish()
            let stream = RecordStream(next: replies.take)
            return try stream.read { buffer in
                guard let tag: UInt8 = buffer.readInteger() else { throw WireError.truncated }
                if tag == 0 { return try buffer.readCopyReport() }
                throw try buffer.readTreeError()
            }
        } catch let error as RemoteError {
            task.cancel()
            throw SyncTreeError(code: .io, operation: "remote write", path: path, detail: error.description)
        } catch {
            task.cancel()
            throw error
        }
    }

    func startStream(_ operation: RemoteOperation, body: BytePipe, path: RelativePath) throws -> (BytePipe, HTTPClient.Task<Void>) {
        do {
            return try connection.stream(operation, body: body)
        } catch let error as RemoteError {
            throw SyncTreeError(code: .io, operation: "remote \(operation.rawValue)", path: path, detail: error.description)
        }
    }

    /// A piece's size: with the largest small file on top it still fits a 256 KiB buffer
    /// (buffers grow in powers of two, and a piece waiting in a pipe holds all of its buffer).
    static let piece = 192 * 1024

    /// Sends a file's content records (``ContentSender``). Records gather in `output` and go
    /// to the pipe in pieces of about ``piece`` bytes, so the small files of a batch share
    /// frames, except that a long copy record goes at once; the caller sends what is left.
    /// Throws the reason of an abort after writing its record.
    static func sendContent(
        of reader: any FileReader, signatures: BlockSignatures?, path: RelativePath, into pipe: BytePipe, buffer output: inout ByteBuffer,
        compress: Bool, shouldStop: () -> Bool
    ) throws {
        let outcome = try ContentSender.send(reader, signatures: signatures, path: path, into: &output, compress: compress, shouldStop: shouldStop) {
            buffer, passOn in
            if passOn || buffer.readableBytes >= Self.piece {
                try pipe.put(buffer)
                buffer = ByteBuffer()
            }
        }
        if let abort = outcome.abort { throw abort }
    }
}
