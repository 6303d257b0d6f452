import CompressNIO
import Crypto
public import NIOCore
public import SyncCore
public import SyncTrees

/// Sends one file's content records, the sending half of ``ContentReceiver``: a delta
/// against the receiver's old copy when its signatures are given, otherwise the whole file
/// read straight into the output buffer; then the SHA-256 of what was read, or an abort
/// record if the file changed meanwhile (or `shouldStop` said so). Both the client (uploads)
/// and the server (downloads) send through it.
public enum ContentSender {
    /// Bytes of file data per literal record when a whole file is sent.
    static let chunk = 256 * 1024
    /// The least room a read gets (the read that finds the end, or a file that grew).
    static let smallestRead: Int64 = 4096
    /// Copy records of at least this much content are passed on at once.
    static let passOnCopy: Int64 = 1 << 20

    /// What one file's sending did.
    public struct Outcome: Sendable {
        /// File data that crossed the wire: literal bytes (compressed, where they were).
        public var literalBytes: Int64
        /// The reason for an abort record, if one was sent instead of the end record.
        public var abort: SyncTreeError?
    }

    /// Appends the records to `output`, calling `flush` after each record so the caller can
    /// pass full pieces on; its flag says the record is a long copy, to pass on at once (a
    /// few bytes that set the receiver rebuilding megabytes while this side reads on). With
    /// `compress`, literal data goes deflated wherever that saves a tenth or more (photos and
    /// videos are sent as they are).
    public static func send(
        _ reader: any FileReader, signatures: BlockSignatures?, path: RelativePath, into output: inout ByteBuffer, compress: Bool = false,
        shouldStop: () -> Bool = { false }, flush: (inout ByteBuffer, _ passOn: Bool) throws -> Void
    ) throws -> Outcome {
        var literal: Int64 = 0
        var saved: Int64 = 0
        func stopIfAsked() throws {
            if shouldStop() { throw SyncTreeError(code: .interrupted, operation: "copy", path: path, detail: "stopped") }
        }
        do {
            let digest: [UInt8]
            if let signatures {
                // A delta is verified by its block digest: the blocks both sides know from
                // their signatures are not hashed again.
                ContentRecord.writeBlockVerification(blockSize: signatures.blockSize, key: signatures.key, to: &output)
                let outcome = try DeltaEncoder(signatures: signatures, own: reader.keptSignatures).encode(
                    size: reader.attributes.size,
                    read: { buffer in
                        try stopIfAsked()
                        return try reader.read(into: buffer)
                    },
                    emit: { record in
                        switch record {
                        case .literal(let bytes):
                            if compress, let deflated = bytes.withUnsafeBytes(Self.deflated) {
                                ContentRecord.writeDeflate(uncompressedLength: bytes.count, compressed: deflated, to: &output)
                                saved += Int64(bytes.count - deflated.readableBytes)
                            } else {
                                ContentRecord.writeLiteralHeader(length: bytes.count, to: &output)
                                output.writeBytes(bytes)
                            }
                        case .copy(let offset, let length):
                            ContentRecord.writeCopy(offset: offset, length: length, to: &output)
                            try flush(&output, length >= Self.passOnCopy)
                            return
                        }
                        try flush(&output, false)
                    })
                literal = outcome.literalBytes - saved  // the encoder counts literals whole
                digest = outcome.digest
            } else {
                var hasher = SHA256()
                // Room for what the file is listed to hold, not a whole chunk: a batch's buffer
                // of small files then stays the size it carries.
                var expected = reader.attributes.size
                // A reader whose final check covers the size needs no read that finds the end:
                // one read fewer per small file.
                let stopsAtSize = reader.checksSize
                while !(stopsAtSize && expected == 0) {
                    try stopIfAsked()
                    let want = Int(min(Int64(chunk), max(expected, Self.smallestRead)))
                    output.reserveCapacity(minimumWritableBytes: want + 16)
                    let headerIndex = output.writerIndex
                    // Room for the header, filled in once the length is known: the data is
                    // read straight into the buffer that goes on the wire.
                    output.writeRepeatingByte(0, count: 4)
                    let count = try output.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw in
                        try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[..<want]))
                    }
                    expected -= Int64(count)
                    if count == 0 {
                        output.moveWriterIndex(to: headerIndex)
                        break
                    }
                    let deflated = output.withUnsafeReadableBytes { bytes in
                        let start = headerIndex + 4 - output.readerIndex
                        let chunk = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)])
                        hasher.update(bufferPointer: chunk)
                        return compress ? Self.deflated(chunk) : nil
                    }
                    if let deflated {
                        output.moveWriterIndex(to: headerIndex)
                        ContentRecord.writeDeflate(uncompressedLength: count, compressed: deflated, to: &output)
                        literal += Int64(deflated.readableBytes)
                    } else {
                        ContentRecord.fillLiteralHeader(&output, at: headerIndex, length: count)
                        literal += Int64(count)
                    }
                    try flush(&output, false)
                }
                digest = Array(hasher.finalize())
            }
            try reader.checkUnchanged()
            ContentRecord.writeEnd(sha256: digest, to: &output)
            return Outcome(literalBytes: literal, abort: nil)
        } catch let error as SyncTreeError {
            // The receiver drops its temporary file; the error is the copy's result.
            ContentRecord.writeAbort(error, to: &output)
            return Outcome(literalBytes: literal, abort: error)
        }
    }
}

extension ContentSender {
    /// Deflate at its fastest level: on a link slow enough to want compression, the CPU is not the limit.
    static let deflate = CompressionAlgorithm.deflate(configuration: ZlibConfiguration(compressionLevel: 1))

    /// `bytes` deflated, when that saves at least a tenth; `nil` otherwise.
    static func deflated(_ bytes: UnsafeRawBufferPointer) -> ByteBuffer? {
        guard bytes.count >= 512 else { return nil }
        var input = ByteBuffer(bytes: bytes)
        // Room for nine tenths: what does not fit is not worth sending compressed.
        var output = ByteBuffer()
        output.reserveCapacity(bytes.count * 9 / 10)
        do {
            try input.compress(to: &output, with: deflate)
        } catch {
            return nil
        }
        return output.readableBytes * 10 <= bytes.count * 9 ? output : nil
    }
}

extension ContentRecord {
    /// Writes a literal header of exactly 4 bytes at `index` (a varint padded with
    /// continuation bytes), for data already written after it.
    static func fillLiteralHeader(_ buffer: inout ByteBuffer, at index: Int, length: Int) {
        precondition(length < 1 << 21)
        buffer.setInteger(literalTag, at: index)
        buffer.setInteger(UInt8(truncatingIfNeeded: length) | 0x80, at: index + 1)
        buffer.setInteger(UInt8(truncatingIfNeeded: length >> 7) | 0x80, at: index + 2)
        buffer.setInteger(UInt8(truncatingIfNeeded: length >> 14), at: index + 3)
    }
}
