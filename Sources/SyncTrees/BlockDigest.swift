import Crypto

/// What a large file is compared by across a network instead of its MD5, and what a delta
/// transfer is verified by: the SHA-256 of the file's size, its block size and each block's
/// keyed ``StrongHash`` in order (a shorter last block included).
///
/// It comes from the same read as the file's ``BlockSignatures``, so comparing two copies
/// costs one pass over each, and a delta that follows needs no second pass: the sender and
/// the receiver take the hash of every block they know unchanged from those signatures
/// instead of hashing its bytes again. An MD5 of a file of a gigabyte costs more than
/// rsync's whole delta transfer of it; the keyed block hashes run at several GB/s.
public struct BlockDigest: Sendable {
    /// The text form's prefix: such a digest is never mistaken for (or stored as) an MD5.
    public static let prefix = "blocks:"

    public let blockSize: Int
    public let key: BlockKey
    private var list = SHA256()
    /// The start of a block that arrived in pieces.
    private var pending: [UInt8] = []
    /// Bytes of a block added by its known hash that are still to come (and be skipped).
    private var skipping = 0

    /// A digest of a file of `size` bytes in blocks of `blockSize`, hashed with `key`.
    public init(size: Int64, blockSize: Int, key: BlockKey) {
        self.blockSize = blockSize
        self.key = key
        var header = [UInt8]()
        for value in [UInt64(size), UInt64(blockSize)] {
            for shift in stride(from: 0, to: 64, by: 8) { header.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        list.update(data: header)
    }

    /// Whether the next byte added starts a block.
    public var isAtBlockStart: Bool { pending.isEmpty && skipping == 0 }

    /// Adds a whole block by its hash, known from signatures of the same content.
    public mutating func add(known hash: StrongHash) {
        precondition(isAtBlockStart, "a known block starts at a block boundary")
        list.update(data: hash.bytes)
    }

    /// Adds content bytes, in order, taking the hash of each block that starts in them from
    /// `known` where it has one (given the block's first byte's index in `bytes`): those
    /// blocks' bytes are not hashed. Whoever says a block is known vouches that the next
    /// ``blockSize`` bytes are exactly the content that hash was taken from.
    public mutating func add(_ bytes: UnsafeRawBufferPointer, known: (Int) -> StrongHash?) {
        var index = 0
        while index < bytes.count {
            if skipping > 0 {
                let count = min(skipping, bytes.count - index)
                skipping -= count
                index += count
            } else if pending.isEmpty, let hash = known(index) {
                list.update(data: hash.bytes)
                skipping = blockSize
            } else {
                let count = min(bytes.count - index, blockSize - pending.count)
                add(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + count)]))
                index += count
            }
        }
    }

    /// Adds content bytes, in order.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        while index < bytes.count {
            if pending.isEmpty && bytes.count - index >= blockSize {
                // A whole block in place: hashed where it lies.
                list.update(data: key.hash(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + blockSize)])).bytes)
                index += blockSize
            } else {
                let count = min(blockSize - pending.count, bytes.count - index)
                pending.append(contentsOf: bytes[index..<(index + count)])
                index += count
                if pending.count == blockSize { closePending() }
            }
        }
    }

    private mutating func closePending() {
        let hash = pending.withUnsafeBytes { key.hash($0) }
        list.update(data: hash.bytes)
        pending.removeAll(keepingCapacity: true)
    }

    /// The digest, once every byte was added.
    public mutating func finalize() -> [UInt8] {
        // Content that ended inside a known block is not that content: no digest of a whole
        // file can match this one.
        if skipping > 0 { list.update(data: [0xFF]) }
        if !pending.isEmpty { closePending() }
        return Array(list.finalize())
    }

    /// The text form the engine compares: ``prefix`` and 64 hex digits.
    public static func text(_ digest: [UInt8]) -> String {
        prefix + lowercaseHex(digest)
    }

    /// Whether `digest` (as a tree returned it) is an MD5, which the audit records, rather
    /// than a block digest, which it does not.
    public static func isMD5(_ digest: String) -> Bool {
        !digest.hasPrefix(prefix)
    }
}

extension StrongHash {
    /// The hash as 16 bytes, most significant first.
    public var bytes: [UInt8] {
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: high >> UInt64($0 * 8)) }
            + (0..<8).reversed().map { UInt8(truncatingIfNeeded: low >> UInt64($0 * 8)) }
    }
}
