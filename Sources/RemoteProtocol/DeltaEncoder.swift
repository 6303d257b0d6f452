public import SyncTrees

/// One step of rebuilding a file on the receiving side.
public enum DeltaRecord: Sendable, Equatable {
    /// New bytes.
    case literal([UInt8])
    /// Bytes the receiver already has: `length` bytes of its old copy from `offset`.
    case copy(offset: Int64, length: Int64)
}

/// Finds, in new content read as a stream, the blocks the receiver already has
/// (``BlockSignatures``), and describes the content as copies of those blocks and literal
/// bytes in between: rsync's delta algorithm. Memory is one buffer of a few MiB whatever
/// the file's size.
public struct DeltaEncoder {
    private let signatures: BlockSignatures
    private var candidates: [UInt32: [Int32]] = [:]
    /// A bit per hashed weak checksum: most positions of changed data are rejected here
    /// without a dictionary lookup.
    private var filter: [UInt64]

    /// Literal bytes are sent in records of at most this size.
    public static let literalChunk = 256 * 1024
    /// A run of matched blocks is sent in copy records of at most this size, so the receiver
    /// rebuilds while the sender still reads: an unchanged half of a large file would
    /// otherwise arrive as one record once the sender has read all of it.
    public static let copyRecordLimit: Int64 = 8 << 20
    private let copyRecordLimit: Int64
    /// The new content's own block signatures at whole-block offsets, when known from its
    /// digest's read (``KeptSignatures``) under the same key: a window at such an offset is
    /// matched from them, and counted in the digest, without summing or hashing it again.
    /// Should the file have changed since, its reader's final version check fails the copy.
    private let own: BlockSignatures?

    public init(signatures: BlockSignatures, own: BlockSignatures? = nil, copyRecordLimit: Int64 = Self.copyRecordLimit) {
        self.signatures = signatures
        self.own = own?.blockSize == signatures.blockSize && own?.key == signatures.key ? own : nil
        self.copyRecordLimit = copyRecordLimit
        filter = [UInt64](repeating: 0, count: (1 << 20) / 64)
        for (index, block) in signatures.blocks.enumerated() {
            candidates[block.weak, default: []].append(Int32(index))
            let bit = Self.filterBit(block.weak)
            filter[bit >> 6] |= 1 << UInt64(bit & 63)
        }
    }

    @inline(__always)
    private static func filterBit(_ weak: UInt32) -> Int {
        Int((weak &* 0x9E37_79B1) >> 12)
    }

    /// What the encoder sent: the content's ``BlockDigest`` (in the signatures' block size)
    /// and how it split.
    public struct Outcome: Sendable, Equatable {
        public var digest: [UInt8]
        public var totalBytes: Int64
        public var literalBytes: Int64
        public var copiedBytes: Int64
    }

    /// Reads everything `read` returns (until 0) and passes the records to `emit`, in order.
    /// `size` is the content's size as announced to the receiver (its digest covers it).
    public func encode(
        size: Int64, read: (UnsafeMutableRawBufferPointer) throws -> Int, emit: (DeltaRecord) throws -> Void
    ) throws -> Outcome {
        let blockSize = signatures.blockSize
        let capacity = max(4 << 20, blockSize * 4)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        // The blocks known from the content's own signatures are not hashed again: if the file
        // changed since they were taken, its reader's final check fails the transfer.
        var digest = BlockDigest(size: size, blockSize: blockSize, key: signatures.key)
        var outcome = Outcome(digest: [], totalBytes: 0, literalBytes: 0, copiedBytes: 0)
        var start = 0  // the window's first byte
        var end = 0  // bytes in the buffer
        var base: Int64 = 0  // the file offset of the buffer's first byte
        var literalStart = 0
        var finished = false
        var checksum: RollingChecksum?
        var pendingCopy: (offset: Int64, length: Int64)?
        let canMatch = !signatures.blocks.isEmpty

        func flushCopy() throws {
            if let copy = pendingCopy {
                try emit(.copy(offset: copy.offset, length: copy.length))
                outcome.copiedBytes += copy.length
                pendingCopy = nil
            }
        }
        func flushLiteral(upTo limit: Int) throws {
            guard literalStart < limit else { return }
            try flushCopy()
            var from = literalStart
            while from < limit {
                let to = min(limit, from + Self.literalChunk)
                try emit(.literal(Array(buffer[from..<to])))
                outcome.literalBytes += Int64(to - from)
                from = to
            }
            literalStart = limit
        }

        while true {
            // Keep a whole window plus the byte after it in the buffer.
            if !finished && end - start <= blockSize {
                try flushLiteral(upTo: start)
                let keep = end - start
                if start > 0 && keep > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: keep) }
                base += Int64(start)
                start = 0
                literalStart = 0
                end = keep
                while end < capacity {
                    let count = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
                    if count == 0 {
                        finished = true
                        break
                    }
                    let chunkStart = outcome.totalBytes
                    digest.add(UnsafeRawBufferPointer(rebasing: buffer[end..<(end + count)])) { index in
                        guard let own else { return nil }
                        let offset = chunkStart + Int64(index)
                        let block = Int(offset / Int64(blockSize))
                        return offset % Int64(blockSize) == 0 && block < own.blocks.count ? own.blocks[block].strong : nil
                    }
                    outcome.totalBytes += Int64(count)
                    end += count
                }
            }
            if !canMatch {
                // Nothing to match against: everything is literal.
                try flushLiteral(upTo: end)
                start = end
                if finished { break }
                continue
            }
            guard end - start >= blockSize else { break }
            var known: BlockSignatures.Block?
            if checksum == nil, let own {
                let offset = base + Int64(start)
                let index = Int(offset / Int64(blockSize))
                if offset % Int64(blockSize) == 0 && index < own.blocks.count { known = own.blocks[index] }
            }
            if known == nil && checksum == nil {
                checksum = RollingChecksum(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + blockSize)]))
            }
            let weak = known?.weak ?? checksum!.value
            let bit = Self.filterBit(weak)
            if filter[bit >> 6] & (1 << UInt64(bit & 63)) != 0, let indices = candidates[weak] {
                let strong = known?.strong ?? signatures.key.hash(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + blockSize)]))
                // Where several old blocks have this content, the one after the last match
                // comes first: the copy goes on as one record instead of one per block.
                let next = pendingCopy.map { Int(($0.offset + $0.length) / Int64(blockSize)) }
                let continues = next.flatMap { next in
                    next < signatures.blocks.count && signatures.blocks[next].weak == weak && signatures.blocks[next].strong == strong
                        ? Int32(next) : nil
                }
                if let match = continues ?? indices.first(where: { signatures.blocks[Int($0)].strong == strong }) {
                    try flushLiteral(upTo: start)
                    let offset = Int64(match) * Int64(blockSize)
                    if let copy = pendingCopy, copy.offset + copy.length == offset, copy.length < copyRecordLimit {
                        pendingCopy = (copy.offset, copy.length + Int64(blockSize))
                    } else {
                        try flushCopy()
                        pendingCopy = (offset, Int64(blockSize))
                    }
                    start += blockSize
                    literalStart = start
                    checksum = nil
                    continue
                }
            }
            guard start + blockSize < end else {
                if finished { break }
                continue  // refill first
            }
            if checksum == nil {
                checksum = RollingChecksum(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + blockSize)]))
            }
            checksum!.roll(out: buffer[start], in: buffer[start + blockSize])
            start += 1
            if start - literalStart >= Self.literalChunk { try flushLiteral(upTo: start) }
        }
        try flushLiteral(upTo: end)
        try flushCopy()
        outcome.digest = digest.finalize()
        return outcome
    }
}
