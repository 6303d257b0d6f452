public import NIOCore
public import SyncCore
public import SyncTrees

/// The requests a remote peer answers, each at `POST /v1/ROOT/NAME`.
public enum RemoteOperation: String, Sendable, CaseIterable {
    /// Checks the token and the root, and tells the server's protocol version.
    case hello
    case list
    case listKinds = "list-kinds"
    /// Streams the listing of every folder of a subtree, in the order the engine visits them.
    case walk
    case entry
    case md5
    /// The block digest of a large file (``BlockDigest``), its block signatures kept for a delta.
    case blockDigest = "block-digest"
    /// The MD5 of several files, each with its own outcome.
    case digests
    /// The block signatures of a file, for a delta upload.
    case signatures
    /// Streams the content of one or more files (batched), as deltas where the client sent signatures.
    case read
    /// Receives one or more files (batched), each written atomically.
    case write
    case makeDirectory = "mkdir"
    /// Creates several directories, each with its own outcome.
    case makeDirectories = "mkdirs"
    case finishDirectory = "finish-dir"
    /// Finishes several directories, each with its own outcome.
    case finishDirectories = "finish-dirs"
    case makeSymlink = "symlink"
    case remove
    case setModificationTime = "set-mtime"
    case removeTemporaryFile = "remove-temp"
    case rename
    case keepVersion = "keep-version"
    /// Keeps several versions, each with its own outcome and whether its original stayed.
    case keepVersions = "keep-versions"

    /// Whether the operation changes the tree (refused on a read-only root).
    public var writes: Bool {
        switch self {
        case .hello, .list, .listKinds, .walk, .entry, .md5, .blockDigest, .digests, .signatures, .read: false
        case .write, .makeDirectory, .makeDirectories, .finishDirectory, .finishDirectories, .makeSymlink, .remove, .setModificationTime,
            .removeTemporaryFile, .rename, .keepVersion, .keepVersions:
            true
        }
    }

    /// Requests whose bodies stream (many files); the others fit in one small message.
    public var streams: Bool { self == .read || self == .write || self == .walk }

    /// The version of this message set; a server refuses a client of another version by name.
    public static let protocolVersion = 6
}

/// The reply to a small request: a status byte, then the payload or a tree error.
public enum RemoteReply {
    public static let okTag: UInt8 = 0
    public static let errorTag: UInt8 = 1

    public static func ok(_ payload: (inout ByteBuffer) -> Void = { _ in }) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(okTag)
        payload(&buffer)
        return buffer
    }

    public static func failure(_ error: SyncTreeError) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(errorTag)
        buffer.writeTreeError(error)
        return buffer
    }

    /// Reads one item of a reply that answers for several paths (`digests`, `finish-dirs`):
    /// its status byte, and the tree error of a failed item.
    public static func itemFailure(_ buffer: inout ByteBuffer) throws -> SyncTreeError? {
        guard let tag: UInt8 = buffer.readInteger() else { throw WireError.truncated }
        switch tag {
        case okTag: return nil
        case errorTag: return try buffer.readTreeError()
        default: throw WireError.malformed("unknown item status \(tag)")
        }
    }

    /// Reads the status byte: returns normally for success (the payload follows), throws the tree error otherwise.
    public static func check(_ buffer: inout ByteBuffer) throws {
        guard let tag: UInt8 = buffer.readInteger() else { throw WireError.truncated }
        switch tag {
        case okTag: return
        case errorTag: throw try buffer.readTreeError()
        default: throw WireError.malformed("unknown reply status \(tag)")
        }
    }
}

/// The records of a `walk` reply: a folder's listing, a folder that could not be listed, the end.
public enum WalkRecord {
    public static let listing: UInt8 = 0
    public static let failure: UInt8 = 1
    public static let end: UInt8 = 2

    /// Reads the next record of a walk: a folder with its listing or the error that stopped
    /// it, or `nil` at the end.
    public static func read(from stream: RecordStream) throws -> (RelativePath, Result<DirectoryListing, SyncTreeError>)? {
        let tag = try stream.read { buffer -> UInt8 in
            guard let tag: UInt8 = buffer.readInteger() else { throw WireError.truncated }
            return tag
        }
        if tag == end { return nil }
        return try stream.read { buffer -> (RelativePath, Result<DirectoryListing, SyncTreeError>) in
            let folder = try buffer.readPath()
            switch tag {
            case listing: return (folder, .success(try buffer.readListing()))
            case failure: return (folder, .failure(try buffer.readTreeError()))
            default: throw WireError.malformed("unknown walk record \(tag)")
            }
        }
    }
}

extension ByteBuffer {
    /// ``ExpectedTarget`` of a write: 0 unchecked, 1 absent, 2 and an entry for unchanged.
    public mutating func writeExpectedTarget(_ expected: ExpectedTarget) {
        switch expected {
        case .unchecked: writeInteger(UInt8(0))
        case .absent: writeInteger(UInt8(1))
        case .unchanged(let entry):
            writeInteger(UInt8(2))
            writeEntry(entry)
        }
    }

    public mutating func readExpectedTarget() throws -> ExpectedTarget {
        guard let tag: UInt8 = readInteger() else { throw WireError.truncated }
        switch tag {
        case 0: return .unchecked
        case 1: return .absent
        case 2: return .unchanged(try readEntry())
        default: throw WireError.malformed("unknown expected target \(tag)")
        }
    }

    public mutating func writeCopyOptions(_ options: CopyOptions) {
        writeBool(options.verify)
        writeBool(options.fsync)
        writeExpectedTarget(options.expectedTarget)
    }

    public mutating func readCopyOptions() throws -> CopyOptions {
        let verify = try readBool()
        let fsync = try readBool()
        return CopyOptions(verify: verify, fsync: fsync, expectedTarget: try readExpectedTarget())
    }

    public mutating func writeCopyReport(_ report: CopyReport) {
        writeSigned(report.bytesCopied)
        writeSigned(report.size)
        writeTimestamp(report.modified)
        writeBool(report.md5 != nil)
        if let md5 = report.md5 { writeText(md5) }
    }

    public mutating func readCopyReport() throws -> CopyReport {
        let copied = try readSigned()
        let size = try readSigned()
        let modified = try readTimestamp()
        let md5 = try readBool() ? try readText() : nil
        return CopyReport(bytesCopied: copied, size: size, modified: modified, md5: md5)
    }

    public mutating func writeOptionalKind(_ kind: EntryKind?) {
        writeBool(kind != nil)
        if let kind { writeKind(kind) }
    }

    public mutating func readOptionalKind() throws -> EntryKind? {
        try readBool() ? try readKind() : nil
    }
}
