import CompressNIO
import Crypto
import NIOCore
public import SyncCore
public import SyncTrees

/// A file arriving as content records (``ContentRecord``), read as a ``FileReader`` by the
/// tree that writes it. Copy records are served from the receiver's old copy of the file
/// (the basis its tree offers); the end record's digest must match what was rebuilt, or the
/// read fails and the tree renames nothing into place. For a delta that digest is the
/// ``BlockDigest``: a copied block whose hash this side knows from its old copy's kept
/// signatures is not hashed again, and the old copy must then still be the version those
/// signatures came from.
public final class ContentReceiver: DeltaFileReader {
    public let attributes: FileAttributes
    private let stream: RecordStream
    private let path: RelativePath
    private var basis: (any BasisFile)?
    private var hasher = SHA256()
    /// The delta's digest, once its first record announced it.
    private var blockDigest: BlockDigest?
    /// Whether a block's hash was taken from the old copy's signatures.
    private var trustedBasis = false
    private var served: Int64 = 0
    private var literalLeft = 0
    private var copyOffset: Int64 = 0
    private var copyLeft: Int64 = 0
    /// An inflated literal being served.
    private var inflated = ByteBuffer()
    private var ended = false
    /// Bytes that crossed the wire (literal records), as against bytes copied from the basis.
    public private(set) var literalBytes: Int64 = 0
    public private(set) var copiedBytes: Int64 = 0

    /// Whether the sender may send copy records (``DeltaFileReader/wantsBasis``).
    public let wantsBasis: Bool

    /// `wantsBasis: false` when the sender cannot have had signatures of an old copy: a
    /// copy record then fails the file like any reference to a copy this side lacks.
    public init(attributes: FileAttributes, path: RelativePath, stream: RecordStream, wantsBasis: Bool = true) {
        self.attributes = attributes
        self.path = path
        self.stream = stream
        self.wantsBasis = wantsBasis
    }

    public func useBasis(_ basis: any BasisFile) {
        self.basis = basis
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            if inflated.readableBytes > 0 {
                let count = min(buffer.count, inflated.readableBytes)
                inflated.withUnsafeReadableBytes { bytes in
                    UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[..<count]))
                }
                inflated.moveReaderIndex(forwardBy: count)
                digest(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                return count
            }
            if literalLeft > 0 {
                let count = try stream.readSome(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<min(buffer.count, literalLeft)]))
                literalLeft -= count
                literalBytes += Int64(count)
                digest(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                return count
            }
            if copyLeft > 0 {
                guard let basis else {
                    throw SyncTreeError(
                        code: .io, operation: "delta", path: path, detail: "the sender referred to an old copy this side does not have")
                }
                let want = Int(min(Int64(buffer.count), copyLeft))
                let count = try basis.read(at: copyOffset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<want]))
                guard count > 0 else {
                    throw SyncTreeError(code: .targetChanged, operation: "delta", path: path, detail: "the old copy shrank during the transfer")
                }
                digest(UnsafeRawBufferPointer(rebasing: buffer[..<count]), copiedFrom: copyOffset, copyLeft: copyLeft)
                copyOffset += Int64(count)
                copyLeft -= Int64(count)
                copiedBytes += Int64(count)
                return count
            }
            if ended { return 0 }
            try nextRecord()
        }
    }

    public func takeBasisRun(limit: Int64) throws -> (offset: Int64, length: Int64)? {
        while inflated.readableBytes == 0 && literalLeft == 0 && copyLeft == 0 && !ended { try nextRecord() }
        guard copyLeft > 0, let kept = vouchingSignatures, blockDigest!.isAtBlockStart else { return nil }
        let blockSize = Int64(kept.blockSize)
        guard copyOffset % blockSize == 0 else { return nil }
        let first = Int(copyOffset / blockSize)
        let count = min(Int(min(copyLeft, limit) / blockSize), kept.blocks.count - first)
        guard count > 0 else { return nil }
        for block in kept.blocks[first..<(first + count)] { blockDigest!.add(known: block.strong) }
        trustedBasis = true
        let run = (offset: copyOffset, length: Int64(count) * blockSize)
        copyOffset += run.length
        copyLeft -= run.length
        copiedBytes += run.length
        served += run.length
        return run
    }

    /// Reads the next record's header and takes it in.
    private func nextRecord() throws {
        switch try stream.read(ContentRecord.readHeader) {
        case .literal(let length):
            literalLeft = length
        case .deflate(let uncompressedLength, let compressedLength):
            inflated = try inflate(compressedLength: compressedLength, to: uncompressedLength)
            literalBytes += Int64(compressedLength)
        case .copy(let offset, let length):
            copyOffset = offset
            copyLeft = length
        case .verifyByBlocks(let blockSize, let key):
            guard served == 0 && blockDigest == nil else {
                throw SyncTreeError(code: .io, operation: "delta", path: path, detail: "the sender changed how the content is verified midway")
            }
            blockDigest = BlockDigest(size: attributes.size, blockSize: blockSize, key: key)
        case .end(let digest):
            ended = true
            let rebuilt = blockDigest != nil ? blockDigest!.finalize() : Array(hasher.finalize())
            guard rebuilt == digest else {
                throw SyncTreeError(
                    code: .verificationFailed, operation: "verify", path: path,
                    detail: "the received content's \(blockDigest == nil ? "SHA-256" : "block digest") does not match the sender's")
            }
            if trustedBasis, let basis, basis.keptVersion == nil || basis.currentVersion() != basis.keptVersion {
                throw SyncTreeError(code: .targetChanged, operation: "delta", path: path, detail: "the old copy changed during the transfer")
            }
        case .abort(let error):
            ended = true
            throw error
        }
    }

    /// The old copy's kept signatures, when the delta's digest may take blocks' hashes from
    /// them: kept for a known version, in the digest's block size and under its key.
    private var vouchingSignatures: BlockSignatures? {
        guard let basis, basis.keptVersion != nil, let kept = basis.keptSignatures, let digest = blockDigest,
            kept.blockSize == digest.blockSize, kept.key == digest.key
        else {
            return nil
        }
        return kept
    }

    /// Adds served bytes to the digest: copied ones (from `offset` of the old copy, with
    /// `copyLeft` bytes of their record left) that start a block the old copy's kept signatures
    /// hash, a whole block of it from this record, by that hash.
    private func digest(_ bytes: UnsafeRawBufferPointer, copiedFrom offset: Int64? = nil, copyLeft: Int64 = 0) {
        served += Int64(bytes.count)
        guard blockDigest != nil else {
            hasher.update(bufferPointer: bytes)
            return
        }
        guard let offset, let kept = vouchingSignatures else {
            blockDigest!.add(bytes)
            return
        }
        let blockSize = Int64(kept.blockSize)
        blockDigest!.add(bytes) { index in
            let from = offset + Int64(index)
            let block = Int(from / blockSize)
            guard from % blockSize == 0, copyLeft - Int64(index) >= blockSize, block < kept.blocks.count else { return nil }
            trustedBasis = true
            return kept.blocks[block].strong
        }
    }

    /// Reads a deflated literal and inflates it into exactly the announced length (a stream
    /// that would inflate to more is refused, not followed).
    private func inflate(compressedLength: Int, to length: Int) throws -> ByteBuffer {
        var output = ByteBuffer()
        output.reserveCapacity(length)
        var input = try stream.readBytes(compressedLength)
        do {
            try input.decompress(to: &output, with: ContentSender.deflate)
        } catch {
            throw SyncTreeError(
                code: .io, operation: "inflate", path: path, detail: "the sender's compressed data is damaged or longer than announced")
        }
        guard output.readableBytes == length else {
            throw SyncTreeError(
                code: .io, operation: "inflate", path: path,
                detail: "the sender's compressed data inflated to \(output.readableBytes) bytes, not \(length)")
        }
        return output
    }

    /// Whether the end record arrived (and matched).
    public var isComplete: Bool { ended }

    /// The check happened at the end record: a file is only complete once its hash matched.
    public func checkUnchanged() throws {
        guard ended else { throw SyncTreeError(code: .sourceChanged, operation: "copy", path: path, detail: "the transfer ended early") }
    }

    /// Skips what is left of this file in the stream, so the next file of a batch can be read.
    public func drain() throws {
        while !ended {
            if literalLeft > 0 {
                try stream.readBytes(literalLeft) { _ in }
                literalLeft = 0
            }
            copyLeft = 0
            switch try stream.read(ContentRecord.readHeader) {
            case .literal(let length): literalLeft = length
            case .deflate(_, let compressedLength): try stream.readBytes(compressedLength) { _ in }
            case .copy, .verifyByBlocks: break
            case .end, .abort: ended = true
            }
        }
    }
}
