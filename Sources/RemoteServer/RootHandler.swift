import NIOCore
import RemoteProtocol
import SyncCore
import SyncFileSystem
import SyncTrees
import Synchronization

/// Carries out requests on one exported root. Blocking: runs on the server's I/O threads.
struct RootHandler: Sendable {
    let root: ExportedRoot
    let opened: OpenedRoot

    /// The tree as opened now (see ``OpenedRoot``).
    var tree: LocalTree { opened.tree }

    /// Replies of a stream are sent in pieces of about this size (many small files share one).
    static let flushSize = 128 * 1024

    /// A small request: decodes it, runs it, encodes the reply. Malformed input throws
    /// (the request is refused); a failure of the tree is part of the reply.
    func simple(_ operation: RemoteOperation, _ body: inout ByteBuffer) throws -> ByteBuffer {
        do {
            switch operation {
            case .hello:
                // Every run starts here: the moment to notice the folder was replaced.
                try opened.reopenIfReplaced()
                return RemoteReply.ok { $0.writeVarInt(UInt64(RemoteOperation.protocolVersion)) }
            case .list, .listKinds:
                let path = try body.readPath()
                let listing = operation == .list ? try tree.list(path) : try tree.listKinds(path)
                return RemoteReply.ok { $0.writeListing(listing) }
            case .entry:
                let entry = try tree.entry(at: try body.readPath())
                return RemoteReply.ok { $0.writeOptionalEntry(entry) }
            case .md5:
                // A client asks for a digest when it may send or fetch a delta of the file next.
                let digest = try tree.md5(of: try body.readPath(), preparingDelta: true)
                return RemoteReply.ok { $0.writeText(digest) }
            case .blockDigest:
                let path = try body.readPath()
                let digest = try tree.blockDigest(of: path, key: try body.readBlockKey())
                return RemoteReply.ok { $0.writeText(digest) }
            case .digests:
                var digests: [Result<String, SyncTreeError>] = []
                for _ in 0..<(try body.readCount(limit: WireLimits.maxBatch)) {
                    let path = try body.readPath()
                    do {
                        digests.append(.success(try tree.md5(of: path, preparingDelta: true)))
                    } catch let error as SyncTreeError {
                        digests.append(.failure(error))
                    }
                }
                return RemoteReply.ok { buffer in
                    for digest in digests {
                        switch digest {
                        case .success(let text):
                            buffer.writeInteger(RemoteReply.okTag)
                            buffer.writeText(text)
                        case .failure(let error):
                            buffer.writeInteger(RemoteReply.errorTag)
                            buffer.writeTreeError(error)
                        }
                    }
                }
            case .finishDirectories:
                return try forEachItem(&body) { body in
                    let path = try body.readPath()
                    let permissions = UInt32(truncatingIfNeeded: try body.readVarInt()) & 0o7777
                    let modified = try body.readTimestamp()
                    return { try tree.finishDirectory(path, permissions: permissions, modified: modified) }
                }
            case .makeDirectories:
                return try forEachItem(&body) { body in
                    let path = try body.readPath()
                    let replacing = try body.readOptionalKind()
                    return { try tree.makeDirectory(path, replacing: replacing) }
                }
            case .signatures:
                let path = try body.readPath()
                let source = try body.readAttributes()
                let signatures = try signatures(of: path, source: source)
                return RemoteReply.ok { buffer in
                    buffer.writeBool(signatures != nil)
                    signatures?.write(to: &buffer)
                }
            case .makeDirectory:
                let path = try body.readPath()
                try tree.makeDirectory(path, replacing: try body.readOptionalKind())
            case .finishDirectory:
                let path = try body.readPath()
                let permissions = UInt32(truncatingIfNeeded: try body.readVarInt()) & 0o7777
                try tree.finishDirectory(path, permissions: permissions, modified: try body.readTimestamp())
            case .makeSymlink:
                let path = try body.readPath()
                let target = try body.readBlob(limit: WireLimits.maxPath)
                try tree.makeSymlink(path, target: target, modified: try body.readTimestamp())
            case .remove:
                let path = try body.readPath()
                guard !path.isRoot else { throw RemotePathError(reason: "the root itself cannot be removed") }
                try tree.remove(path, kind: try body.readKind())
            case .setModificationTime:
                let path = try body.readPath()
                try tree.setModificationTime(path, to: try body.readTimestamp())
            case .removeTemporaryFile:
                let directory = try body.readPath()
                let name = try body.readBlob(limit: WireLimits.maxName)
                guard TemporaryName.matches(name) else { throw RemotePathError(reason: "not the name of a temporary file") }
                try tree.removeTemporaryFile(named: name, in: directory)
            case .rename:
                let path = try body.readPath()
                let newPath = try body.readPath()
                try tree.rename(path, to: newPath, expected: try body.readEntry())
            case .keepVersion:
                let path = try body.readPath()
                let versionPath = try body.readPath()
                let expected = try body.readEntry()
                try tree.keepVersion(of: path, as: versionPath, expected: expected, keepOriginal: try body.readBool())
            case .keepVersions:
                return try forEachItem(&body) { body in
                    let version = VersionToKeep(
                        path: try body.readPath(), versionPath: try body.readPath(), expected: try body.readEntry(), keepOriginal: try body.readBool()
                    )
                    return { try tree.keepOneVersion(version).get() }
                } encode: { buffer, originalStays in
                    buffer.writeBool(originalStays)
                }
            case .read, .write, .walk:
                throw WireError.malformed("\(operation.rawValue) streams")
            }
            return RemoteReply.ok()
        } catch let error as SyncTreeError {
            return RemoteReply.failure(error)
        }
    }

    /// Decodes a request for many paths, every item before any is carried out (a malformed
    /// one refuses the whole request), then carries them out in order, each with its own outcome.
    /// Each success's value follows its status byte, as `encode` writes it.
    private func forEachItem<Value>(
        _ body: inout ByteBuffer, _ decode: (inout ByteBuffer) throws -> () throws -> Value,
        encode: (inout ByteBuffer, Value) -> Void = { _, _ in }
    ) throws -> ByteBuffer {
        var items: [() throws -> Value] = []
        for _ in 0..<(try body.readCount(limit: WireLimits.maxBatch)) { items.append(try decode(&body)) }
        var outcomes: [Result<Value, SyncTreeError>] = []
        for item in items {
            do {
                outcomes.append(.success(try item()))
            } catch let error as SyncTreeError {
                outcomes.append(.failure(error))
            }
        }
        return RemoteReply.ok { buffer in
            for outcome in outcomes {
                switch outcome {
                case .success(let value):
                    buffer.writeInteger(RemoteReply.okTag)
                    encode(&buffer, value)
                case .failure(let error):
                    buffer.writeInteger(RemoteReply.errorTag)
                    buffer.writeTreeError(error)
                }
            }
        }
    }

    /// Signatures of what a write of `source`'s version of `path` will be rebuilt from (the
    /// partial file of an interrupted transfer, or the old copy), when there is one worth a
    /// delta: those read with its MD5 if it has not changed since, else read now.
    func signatures(of path: RelativePath, source: FileAttributes) throws -> BlockSignatures? {
        try tree.deltaBasis(for: path, source: source).map(BlockSignatures.of)
    }

    // MARK: Streams

    /// `read`: for each requested file, its attributes (or the error that stopped it), then,
    /// once the client answered with the signatures of its old copy (or none), the content:
    /// a delta against that copy, or the whole file. A client reading one file waits for the
    /// attributes before it answers; a batch sends every answer up front.
    func read(_ input: RecordStream, send: (ByteBuffer) throws -> Void, stats: StreamStats) throws {
        let (compress, count) = try input.read { buffer in (try buffer.readReadFlags(), try buffer.readCount(limit: WireLimits.maxBatch)) }
        var output = ByteBuffer()
        func flush(_ force: Bool) throws {
            if output.readableBytes >= Self.flushSize || (force && output.readableBytes > 0) {
                try send(output)
                output = ByteBuffer()
            }
        }
        for _ in 0..<count {
            let path = try input.read { try $0.readPath() }
            let opened: Result<any FileReader, SyncTreeError>
            do {
                opened = .success(try tree.openFile(path))
            } catch let error as SyncTreeError {
                opened = .failure(error)
            }
            switch opened {
            case .success(let reader):
                output.writeInteger(UInt8(0))
                output.writeAttributes(reader.attributes)
            case .failure(let error):
                output.writeInteger(UInt8(1))
                output.writeTreeError(error)
            }
            // A client reading one file waits for this before it answers; a batch answered up front.
            if count == 1 { try flush(true) }
            let signatures = try input.read { buffer -> BlockSignatures? in
                try buffer.readBool() ? try BlockSignatures.read(from: &buffer) : nil
            }
            guard case .success(let reader) = opened else { continue }
            let outcome = try ContentSender.send(reader, signatures: signatures, path: path, into: &output, compress: compress) { buffer, passOn in
                if passOn || buffer.readableBytes >= Self.flushSize {
                    try send(buffer)
                    buffer = ByteBuffer()
                }
            }
            stats.add(literal: outcome.literalBytes)
            try flush(false)
        }
        try flush(true)
    }

    /// `walk`: the listing of the requested folder and of every folder below it, depth first
    /// with each folder's subfolders in name order (the engine's own order, so the client
    /// holds few listings before they are asked for). A folder that cannot be listed is sent
    /// as its error and not descended into; version stores are left out (the engine lists
    /// them on their own, if at all).
    func walk(_ input: RecordStream, send: (ByteBuffer) throws -> Void) throws {
        let start = try input.read { try $0.readPath() }
        var output = ByteBuffer()
        var pending = [start]
        while let folder = pending.popLast() {
            do {
                let listing = try tree.list(folder)
                output.writeInteger(WalkRecord.listing)
                output.writePath(folder)
                output.writeListing(listing)
                for entry in listing.entries.reversed() where entry.kind == .directory && entry.name != VersionName.folder {
                    pending.append(folder.appending(entry.name))
                }
            } catch let error as SyncTreeError {
                output.writeInteger(WalkRecord.failure)
                output.writePath(folder)
                output.writeTreeError(error)
            }
            if output.readableBytes >= Self.flushSize {
                try send(output)
                output = ByteBuffer()
            }
        }
        output.writeInteger(WalkRecord.end)
        try send(output)
    }

    /// `write`: files, one after another until the request ends, each written atomically;
    /// a reply per file as soon as it is in place (or failed).
    func write(_ input: RecordStream, send: (ByteBuffer) throws -> Void, stats: StreamStats) throws {
        var output = ByteBuffer()
        let parents = ParentFolders()
        defer { parents.release() }
        while try !input.atEnd() {
            let (path, attributes, options) = try input.read { buffer in
                (try buffer.readPath(), try buffer.readAttributes(), try buffer.readCopyOptions())
            }
            // A client asks for signatures (and may then send copies) only for a file this large.
            let receiver = ContentReceiver(
                attributes: attributes, path: path, stream: input, wantsBasis: attributes.size >= deltaBasisMinimumSize)
            do {
                guard !path.isRoot else { throw RemotePathError(reason: "the root is not a file") }
                if root.readOnly {
                    throw SyncTreeError(code: .permissionDenied, operation: "write", path: path, detail: "root '\(root.name)' is exported read-only")
                }
                let report = try tree.receiveFile(path, from: receiver, options: options, shouldStop: { false }, parents: parents)
                output.writeInteger(UInt8(0))
                output.writeCopyReport(report)
            } catch let error as SyncTreeError {
                try receiver.drain()
                output.writeInteger(UInt8(1))
                output.writeTreeError(error)
            }
            stats.add(literal: receiver.literalBytes, copied: receiver.copiedBytes)
            // Replies gather while more of the batch is already here; the client reads them
            // once it has sent everything, so waiting for more input first costs nothing.
            if output.readableBytes >= Self.flushSize || !input.hasBufferedBytes {
                try send(output)
                output = ByteBuffer()
            }
        }
        if output.readableBytes > 0 { try send(output) }
    }
}

/// An exported folder, held open, and opened again when its path comes to name another
/// directory (a volume mounted over it after the server started, a folder recreated): the
/// server must never keep serving the folder underneath.
final class OpenedRoot: Sendable {
    let path: String
    private let current: Mutex<LocalTree>

    init(path: String) throws {
        self.path = path
        current = Mutex(try LocalTree(root: path))
    }

    var tree: LocalTree { current.withLock { $0 } }

    /// Checks the path still names the opened directory; opens it again if not. A path that is
    /// gone is a `notFound` tree error, which a client reports as a missing side.
    func reopenIfReplaced() throws {
        if tree.isStill(at: path) { return }
        let fresh: LocalTree
        do {
            fresh = try LocalTree(root: path)
        } catch let error as SyncTreeError {
            throw error
        } catch {
            throw SyncTreeError(code: .io, operation: "open root", path: nil, detail: "\(error)")
        }
        current.withLock { $0 = fresh }
    }
}
