public import NIOCore
public import SyncTrees

/// How a file's content travels: literal bytes, copies from the receiver's old copy (a
/// delta), and an end record with the SHA-256 of the whole content, which the receiver
/// checks before it renames anything into place. A delta starts with a record that makes
/// the end record's digest the content's ``BlockDigest`` instead. A sender whose file
/// changed under it ends with an abort record.
public enum ContentRecord {
    static let literalTag: UInt8 = 1
    static let copyTag: UInt8 = 2
    static let endTag: UInt8 = 3
    static let abortTag: UInt8 = 4
    /// Literal bytes compressed with deflate (`--compress`).
    static let deflateTag: UInt8 = 5
    /// The end record's digest is the ``BlockDigest`` in blocks of this size, under this key (a delta's first record).
    static let blocksTag: UInt8 = 6

    /// Block sizes the wire accepts, in signatures and a delta's verification record
    /// (``BlockSignatures/blockSize(forFileSize:)`` stays inside).
    static let blockSizes = 512...(1 << 20)

    public static func writeLiteralHeader(length: Int, to buffer: inout ByteBuffer) {
        buffer.writeInteger(literalTag)
        buffer.writeVarInt(UInt64(length))
    }

    /// A compressed literal: the length it inflates to, then the deflate stream's length and bytes.
    public static func writeDeflate(uncompressedLength: Int, compressed: ByteBuffer, to buffer: inout ByteBuffer) {
        buffer.writeInteger(deflateTag)
        buffer.writeVarInt(UInt64(uncompressedLength))
        buffer.writeVarInt(UInt64(compressed.readableBytes))
        buffer.writeImmutableBuffer(compressed)
    }

    public static func writeCopy(offset: Int64, length: Int64, to buffer: inout ByteBuffer) {
        buffer.writeInteger(copyTag)
        buffer.writeVarInt(UInt64(offset))
        buffer.writeVarInt(UInt64(length))
    }

    public static func writeEnd(sha256: [UInt8], to buffer: inout ByteBuffer) {
        buffer.writeInteger(endTag)
        buffer.writeBytes(sha256)
    }

    public static func writeBlockVerification(blockSize: Int, key: BlockKey, to buffer: inout ByteBuffer) {
        buffer.writeInteger(blocksTag)
        buffer.writeVarInt(UInt64(blockSize))
        buffer.writeBytes(key.bytes)
    }

    public static func writeAbort(_ error: SyncTreeError, to buffer: inout ByteBuffer) {
        buffer.writeInteger(abortTag)
        buffer.writeTreeError(error)
    }

    /// A record's header, as read from the stream (a literal's bytes follow it).
    public enum Header: Equatable {
        case literal(length: Int)
        case deflate(uncompressedLength: Int, compressedLength: Int)
        case copy(offset: Int64, length: Int64)
        case end(sha256: [UInt8])
        case verifyByBlocks(blockSize: Int, key: BlockKey)
        case abort(SyncTreeError)
    }

    public static func readHeader(from buffer: inout ByteBuffer) throws -> Header {
        guard let tag: UInt8 = buffer.readInteger() else { throw WireError.truncated }
        switch tag {
        case literalTag:
            return .literal(length: try buffer.readCount(limit: WireLimits.maxLiteral))
        case deflateTag:
            let uncompressed = try buffer.readCount(limit: WireLimits.maxLiteral)
            // Deflate never grows data by more than a few bytes per block; more is hostile.
            let compressed = try buffer.readCount(limit: WireLimits.maxLiteral + 4096)
            return .deflate(uncompressedLength: uncompressed, compressedLength: compressed)
        case copyTag:
            let offset = try buffer.readVarInt()
            let length = try buffer.readVarInt()
            guard offset < UInt64(Int64.max / 2), length < UInt64(Int64.max / 2) else { throw WireError.malformed("copy out of range") }
            return .copy(offset: Int64(offset), length: Int64(length))
        case endTag:
            guard let digest = buffer.readBytes(length: 32) else { throw WireError.truncated }
            return .end(sha256: digest)
        case abortTag:
            return .abort(try buffer.readTreeError())
        case blocksTag:
            let size = try buffer.readCount(limit: blockSizes.upperBound)
            guard blockSizes.contains(size) else { throw WireError.malformed("block size \(size) too small") }
            return .verifyByBlocks(blockSize: size, key: try buffer.readBlockKey())
        default:
            throw WireError.malformed("unknown content record \(tag)")
        }
    }
}

extension ByteBuffer {
    /// The flags a `read` request starts with: bit 0 asks for deflated literals (`--compress`).
    public mutating func writeReadFlags(compress: Bool) {
        writeInteger(UInt8(compress ? 1 : 0))
    }

    /// Reads a `read` request's flags; `true` when the client asks for compressed data.
    public mutating func readReadFlags() throws -> Bool {
        guard let flags: UInt8 = readInteger() else { throw WireError.truncated }
        guard flags & ~1 == 0 else { throw WireError.malformed("unknown read flags \(flags)") }
        return flags & 1 != 0
    }
}
