import CSyncShims

/// The checksums of a file's blocks that a delta transfer matches new content against
/// (rsync's idea): a cheap rolling checksum to find candidates at any offset, and a strong
/// hash, keyed with ``key``, to confirm them.
public struct BlockSignatures: Sendable, Equatable {
    /// One full block's checksums; a shorter last block is left out (it travels as data).
    public struct Block: Sendable, Equatable {
        public var weak: UInt32
        public var strong: StrongHash

        public init(weak: UInt32, strong: StrongHash) {
            self.weak = weak
            self.strong = strong
        }
    }

    public var blockSize: Int
    /// The key of the blocks' strong hashes: whoever matches content against them hashes it
    /// with the same key.
    public var key: BlockKey
    public var blocks: [Block]

    public init(blockSize: Int, key: BlockKey, blocks: [Block] = []) {
        self.blockSize = blockSize
        self.key = key
        self.blocks = blocks
    }

    /// The block size for a file of `size` bytes: about its square root (so signatures and
    /// the data a changed block costs grow alike), a multiple of 1 KiB, from 2 KiB to 128 KiB.
    public static func blockSize(forFileSize size: Int64) -> Int {
        let root = Int(Double(max(size, 1)).squareRoot())
        let rounded = (root + 1023) / 1024 * 1024
        return min(max(rounded, 2048), 128 * 1024)
    }

    /// The signatures of a delta's basis: those kept from its digest's read, else read now
    /// (under a new key).
    public static func of(_ basis: any BasisFile) throws -> BlockSignatures {
        if let kept = basis.keptSignatures { return kept }
        var offset: Int64 = 0
        return try compute(blockSize: blockSize(forFileSize: basis.size), key: .random()) { buffer in
            let count = try basis.read(at: offset, into: buffer)
            offset += Int64(count)
            return count
        }
    }

    /// Computes the signatures of everything `read` returns until it returns 0.
    public static func compute(blockSize: Int, key: BlockKey, read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> BlockSignatures {
        try compute(blockSize: blockSize, key: key, read: read, tail: { _ in })
    }

    /// The signatures and the ``BlockDigest`` of a file of `size` bytes, from one pass over
    /// what `read` returns.
    public static func computeWithDigest(size: Int64, key: BlockKey, read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> (
        signatures: BlockSignatures, digest: [UInt8]
    ) {
        var tail: [UInt8] = []
        let signatures = try compute(blockSize: blockSize(forFileSize: size), key: key, read: read, tail: { tail = Array($0) })
        var digest = BlockDigest(size: size, blockSize: signatures.blockSize, key: key)
        for block in signatures.blocks { digest.add(known: block.strong) }
        tail.withUnsafeBytes { digest.add($0) }
        return (signatures, digest.finalize())
    }

    /// ``compute(blockSize:read:)``, handing the bytes after the last full block to `tail`.
    static func compute(
        blockSize: Int, key: BlockKey, read: (UnsafeMutableRawBufferPointer) throws -> Int, tail: (UnsafeRawBufferPointer) -> Void
    ) throws -> BlockSignatures {
        var signatures = BlockSignatures(blockSize: blockSize, key: key)
        // Whole blocks of about a MiB per read: a small block's read each would cost a call
        // per block of a file of gigabytes.
        let span = blockSize * max(1, (1 << 20) / blockSize)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: span, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            var filled = 0
            var finished = false
            while filled < span {
                let count = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                if count == 0 {
                    finished = true
                    break
                }
                filled += count
            }
            let whole = filled / blockSize * blockSize
            for start in stride(from: 0, to: whole, by: blockSize) {
                let block = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + blockSize)])
                signatures.blocks.append(Block(weak: RollingChecksum(block).value, strong: key.hash(block)))
            }
            if finished {
                tail(UnsafeRawBufferPointer(rebasing: buffer[whole..<filled]))
                return signatures
            }
        }
    }
}

/// A block's 128-bit strong hash (``BlockKey/hash(_:)``).
public struct StrongHash: Sendable, Hashable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }
}

/// rsync's rolling checksum: two running sums that can drop the first byte of the window
/// and take the next in constant time.
public struct RollingChecksum: Sendable {
    private var s1: UInt32 = 0
    private var s2: UInt32 = 0
    private let length: UInt32

    public init(_ bytes: UnsafeRawBufferPointer) {
        // s2 sums the running s1, that is each byte weighted by its distance from the end:
        // summed in C, vectorised (every block of a file is summed this way).
        var s1: UInt32 = 0
        var s2: UInt32 = 0
        hasync_rolling_sums(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &s1, &s2)
        self.s1 = s1
        self.s2 = s2
        self.length = UInt32(truncatingIfNeeded: bytes.count)
    }

    public var value: UInt32 { (s1 & 0xFFFF) | (s2 << 16) }

    /// Slides the window one byte: `out` leaves at the front, `in` joins at the back.
    @inline(__always)
    public mutating func roll(out: UInt8, in incoming: UInt8) {
        s1 = s1 &- UInt32(out) &+ UInt32(incoming)
        s2 = s2 &- length &* UInt32(out) &+ s1
    }
}
